import fs from 'node:fs';
import path from 'node:path';
import { connect, type Capabilities, type Connection } from '@switchboard/core';
import type { CaseResult, SuiteOptions } from './case';
import { makeReport, toJson } from './report';
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
    /**
     * After the last case, write the run's report here, in the JSON format of `switchboard
     * conformance --json` (which `switchboard report` merges into a matrix).
     */
    reportFile?: string;
  },
): void {
  const g = globalThis as unknown as JestGlobals;
  let suite = defineConformanceSuite(options);
  const scale = options.timeScale ?? 1;
  const results = new Map<string, CaseResult>();
  const startedAt = new Date();
  g.describe(`conformance ${options.name ?? options.url}`, () => {
    let connection: Connection | undefined;
    let url = options.url;
    g.beforeAll(async () => {
      if (options.resolveUrl) suite = defineConformanceSuite({ ...options, url: await options.resolveUrl() });
      connection = await connect(suite.options.url, options.connectOptions);
      if (JSON.stringify(connection.capabilities) !== JSON.stringify(options.capabilities)) {
        throw new Error('the connection declares other capabilities than the table given to describeConformance()');
      }
    }, 300_000);
    g.afterAll(async () => {
      if (connection) url = connection.url;
      await connection?.close();
      if (options.reportFile) writeReport(options.reportFile, { name: options.name ?? url, url, startedAt, capabilities: options.capabilities, cases: suite.cases.map((c) => c.id), results });
    }, 60_000);
    for (const c of suite.cases) {
      const { support, reason } = gate(c, options.url, options, options.capabilities);
      if (support === 'none') {
        results.set(c.id, { id: c.id, title: c.title, status: 'unsupported', support, ...(reason ? { reason } : {}), durationMs: 0 });
        g.test.skip(`${c.id} - unsupported: ${reason}`, () => undefined);
        continue;
      }
      g.test(`${c.id} - ${c.title}${support === 'emulated' ? ' (emulated)' : ''}`, async () => {
        if (!connection) throw new Error('not connected');
        const r = await suite.runCase(c, connection);
        results.set(c.id, r);
        if (r.status !== 'passed') throw new Error(`${c.id} ${r.status}: ${r.reason ?? ''}`);
      }, ((c.timeoutMs ?? 60_000) + 30_000) * scale);
    }
  });
}

/** Writes the cases that ran (in catalogue order) as a report `switchboard report` reads. */
function writeReport(file: string, run: { name: string; url: string; startedAt: Date; capabilities: Capabilities; cases: string[]; results: Map<string, CaseResult> }): void {
  const results = run.cases.flatMap((id) => {
    const r = run.results.get(id);
    return r ? [r] : [];
  });
  const report = makeReport({ backend: run.name, url: run.url, startedAt: run.startedAt, capabilities: run.capabilities }, results);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${toJson(report)}\n`);
}
