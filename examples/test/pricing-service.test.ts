// The pricing service example on memory:// in process (with an in-memory span exporter), and its
// `main` as a bundled program: the demo prints its spans through the console exporter, and the
// service shuts down gracefully on SIGTERM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { connect } from '@switchboard/core';
import { driver as memory } from '@switchboard/memory';
import { build } from 'esbuild';
import { runPricingDemo, startTracing } from '../src/pricing-service';
import { expectNothingListed, expectPricingRun, expectPricingTraces } from './expectations';

describe('pricing service in process', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: { shutdown(): Promise<void> };
  beforeAll(() => {
    tracing = startTracing(exporter);
  });
  afterAll(() => tracing.shutdown());

  test('pricing service - answers quotes, fans price changes out to both groups, dead-letters the invalid one on memory://', async () => {
    exporter.reset();
    await using conn = await connect('memory://pricing-run', { drivers: [memory] });
    const r = await runPricingDemo(conn, 'test');
    expectPricingRun(r);
    expect(r.made.map((d) => `${d.kind}:${d.name}`)).toEqual([
      'queue:quotes-test',
      'queue:quotes-test-dlq',
      'topic:prices-test',
      'queue:prices-test-audit-dlq',
      'queue:prices-test-notifications-dlq',
    ]);
    expect(await expectNothingListed(conn, r.made)).toBe(true);
  });

  // The README's "Testing your app on memory://" example, as it is there.
  test('pricing service - answers quotes and fans price changes out to both groups', async () => {
    await using conn = await connect('memory://pricing', { drivers: [memory] });
    const r = await runPricingDemo(conn, 'test');
    expect(r.quotes.map((q) => q.total)).toEqual([37.5, 99]);
    expect(r.changes.audit).toHaveLength(2);
    expect(r.changes.notifications).toHaveLength(2);
    expect(r.deadLetters.audit[0]!.reason).toMatch(/schema: price:/);
    expect(await conn.admin.listObjects('topic:prices-test')).toEqual([]); // it deleted what it made
  });

  test('pricing service - each quote is one linked trace, and the price changes one more', async () => {
    exporter.reset();
    await using conn = await connect('memory://pricing-traces', { drivers: [memory] });
    const r = await runPricingDemo(conn, 'traced');
    const root = expectPricingTraces(r, exporter.getFinishedSpans(), 'switchboard.memory');
    expect(root).toEqual(['quote A-1', 'request quotes-traced', 'process quotes-traced', 'look up A-1']);
  });
});

describe('pricing service as a program', () => {
  let program: string;
  beforeAll(async () => {
    // Bundled from the sources, so the test needs no build step first.
    program = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-pricing-')), 'pricing-service.cjs');
    await build({ entryPoints: [path.join(__dirname, '../src/pricing-service.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node22', outfile: program, logLevel: 'silent' });
  }, 60_000);

  /** Runs the program on memory://; `onLine` sees each stdout line and may signal the child. */
  function run(args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [program, ...args], { env: { ...process.env, SWITCHBOARD_URL: 'memory://' } });
      let stdout = '';
      let stderr = '';
      let partial = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line, child);
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }

  test('pricing service - the demo prints a linked trace per quote through the console exporter', async () => {
    const r = await run([]);
    expect(r.code).toBe(0);
    const quotes = [...r.stdout.matchAll(/^quote (\S+) x\d+: (\S+) EUR \(trace ([0-9a-f]{32})\)$/gm)].map((m) => [m[1], m[2], m[3]] as const);
    expect(quotes.map(([sku, total]) => [sku, total])).toEqual([['A-1', '37.5'], ['C-3', '99']]);
    for (const [sku, , traceId] of quotes) {
      // The console exporter printed the quote's spans, all with its trace id.
      for (const name of [`quote ${sku}`, `look up ${sku}`]) expect(r.stdout).toMatch(new RegExp(`traceId: '${traceId}'[\\s\\S]*?name: '${name}'`));
    }
    expect(r.stdout).toMatch(/^audit: A-1=11, B-2=5; dead-lettered: .*schema: price:/m);
  }, 60_000);

  test('pricing service - on SIGTERM the service closes gracefully and exits 0', async () => {
    const r = await run(['--serve'], (line, child) => {
      if (line.includes('serving')) child.kill('SIGTERM');
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pricing-service: closed gracefully on SIGTERM');
  }, 60_000);
});
