import { connect, type Capabilities, type Connection } from '@switchboard/core';
import type { SuiteOptions } from './case';
import { defineConformanceSuite, gate } from './suite';

/** Minimal view of jest's globals, so this package needs no jest types at run time. */
interface JestGlobals {
  describe(name: string, fn: () => void): void;
  test: ((name: string, fn: () => Promise<void>, timeout?: number) => void) & { skip(name: string, fn: () => void): void };
  beforeAll(fn: () => Promise<void>, timeout?: number): void;
  afterAll(fn: () => Promise<void>, timeout?: number): void;
}

/**
 * Registers the suite as jest tests: one test per case, named "ID - title". A case the backend
 * cannot meet is registered as skipped with its reason in the name, never as a pass; a failed
 * case fails its test with the case's reason. `capabilities` must be the adapter's static table
 * (jest needs the test list before anything connects); the connection's own table is checked
 * against it.
 */
export function describeConformance(
  options: SuiteOptions & {
    capabilities: Capabilities;
    /** Resolves the real URL in beforeAll (e.g. a container's); `url` is then only the shape used for gating. */
    resolveUrl?: () => Promise<string>;
  },
): void {
  const g = globalThis as unknown as JestGlobals;
  let suite = defineConformanceSuite(options);
  const scale = options.timeScale ?? 1;
  g.describe(`conformance ${options.name ?? options.url}`, () => {
    let connection: Connection | undefined;
    g.beforeAll(async () => {
      if (options.resolveUrl) suite = defineConformanceSuite({ ...options, url: await options.resolveUrl() });
      connection = await connect(suite.options.url, options.connectOptions);
      if (JSON.stringify(connection.capabilities) !== JSON.stringify(options.capabilities)) {
        throw new Error('the connection declares other capabilities than the table given to describeConformance()');
      }
    }, 300_000);
    g.afterAll(async () => {
      await connection?.close();
    }, 60_000);
    for (const c of suite.cases) {
      const { support, reason } = gate(c, options.url, options, options.capabilities);
      if (support === 'none') {
        g.test.skip(`${c.id} - unsupported: ${reason}`, () => undefined);
        continue;
      }
      g.test(`${c.id} - ${c.title}${support === 'emulated' ? ' (emulated)' : ''}`, async () => {
        if (!connection) throw new Error('not connected');
        const r = await suite.runCase(c, connection);
        if (r.status !== 'passed') throw new Error(`${c.id} ${r.status}: ${r.reason ?? ''}`);
      }, ((c.timeoutMs ?? 60_000) + 30_000) * scale);
    }
  });
}
