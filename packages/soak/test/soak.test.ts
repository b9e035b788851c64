import { connect, SwitchboardError, type Connection, type ConnectOptions, type ConsumeHandle, type Consumer } from '@switchboard/core';
import { driver as memory } from '@switchboard/memory';
import { faultyMemoryDriver } from '@switchboard/memory/testing';
import { renderMarkdown, renderText, runSoak, toJson, type ConnectFn } from '@switchboard/soak';

const via =
  (d = memory): ConnectFn =>
  (url: string, options?: ConnectOptions) =>
    connect(url, { ...options, drivers: [d] });

/** Connections whose first consumer's consume loop fails with a connection error after `afterMs`. */
function dyingConsumers(afterMs: number): ConnectFn {
  let killed = false;
  return async (url) => {
    const conn = await via()(url);
    return new Proxy(conn, {
      get(target, prop, receiver) {
        if (prop !== 'consumer') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<Connection['consumer']>) => {
          const c = await target.consumer(...args);
          if (killed) return c;
          killed = true;
          return new Proxy(c, {
            get(ct, p, r) {
              if (p !== 'consume') return Reflect.get(ct, p, r) as unknown;
              return (...a: Parameters<Consumer['consume']>): ConsumeHandle => {
                const h = ct.consume(...a);
                const done = new Promise<void>((_resolve, reject) =>
                  setTimeout(() => void h.close().then(() => reject(Object.assign(new Error('gone'), { code: 'x' }))), afterMs),
                );
                done.catch(() => undefined);
                return { close: () => h.close(), done, [Symbol.asyncDispose]: () => h.close() };
              };
            },
          });
        };
      },
    });
  };
}

describe('soak', () => {
  test('soak - a clean run on memory:// counts every message once and passes', async () => {
    const lines: string[] = [];
    const r = await runSoak({ url: 'memory://soak-clean', durationMs: 1500, rate: 200, connect: via(), progressEveryMs: 500, onProgress: (l) => lines.push(l) });
    expect(r.passed).toBe(true);
    expect(r.failures).toEqual([]);
    expect(r.backend).toBe('memory');
    expect(r.counts.sent).toBeGreaterThan(100);
    expect(r.counts.sent).toBeLessThanOrEqual(1500 * 0.2 + 2);
    expect(r.counts).toMatchObject({ confirmed: r.counts.sent, received: r.counts.sent, lost: 0, duplicates: 0, unconfirmed: 0, foreign: 0 });
    expect(r.drained).toBe(true);
    expect(r.sendErrors).toEqual([]);
    expect(lines.some((l) => /sent \d+, confirmed \d+, received \d+/.test(l))).toBe(true);
    expect(renderText(r)).toMatch(/PASSED: no loss/);
    expect(renderMarkdown(r)).toMatch(/\| sent \| confirmed \|/);
    expect(JSON.parse(toJson(r)).counts.lost).toBe(0);
  });

  test('soak - a backend that drops confirmed messages fails the run with the lost ids', async () => {
    const r = await runSoak({ url: 'memory://soak-drop', durationMs: 800, rate: 200, drainMs: 1500, connect: via(faultyMemoryDriver({ dropOneIn: 10 })) });
    expect(r.passed).toBe(false);
    expect(r.counts.lost).toBeGreaterThan(0);
    expect(r.counts.lost).toBe(r.counts.confirmed - r.counts.received);
    expect(r.lostIds.length).toBeGreaterThan(0);
    expect(r.drained).toBe(false);
    expect(r.failures.join('\n')).toMatch(/confirmed messages never arrived/);
    expect(renderText(r)).toMatch(/FAILED/);
  });

  test('soak - duplicates are counted and do not fail the run', async () => {
    const r = await runSoak({ url: 'memory://soak-dup', durationMs: 800, rate: 200, connect: via(faultyMemoryDriver({ duplicateOneIn: 10 })) });
    expect(r.counts.duplicates).toBeGreaterThan(0);
    expect(r.counts.lost).toBe(0);
    expect(r.passed).toBe(true);
  });

  test('soak - restarts run at the interval, and each gets a resume time and a receive gap', async () => {
    const runs: number[] = [];
    const start = Date.now();
    const r = await runSoak({
      url: 'memory://soak-restart',
      durationMs: 2000,
      rate: 100,
      connect: via(),
      restartEveryMs: 600,
      restartCommand: async () => {
        runs.push(Date.now() - start);
        await new Promise((resolve) => setTimeout(resolve, 50));
      },
    });
    expect(runs).toHaveLength(3);
    expect(r.restarts.map((x) => x.index)).toEqual([1, 2, 3]);
    for (const x of r.restarts) {
      expect(x.ok).toBe(true);
      expect(x.resumed).toBe(true);
      expect(x.resumeMs).toBeGreaterThanOrEqual(0);
      expect(x.gapMs).toBeGreaterThan(0);
      expect(x.commandMs).toBeGreaterThanOrEqual(40);
    }
    expect(r.resume.max).toBeDefined();
    expect(r.passed).toBe(true);
    expect(renderText(r)).toMatch(/restart 3 at/);
  });

  test('soak - a restart still running at the end of the duration extends the send phase until it resumed', async () => {
    const r = await runSoak({
      url: 'memory://soak-late-restart',
      durationMs: 800,
      rate: 100,
      connect: via(),
      restartEveryMs: 600,
      restartCommand: () => new Promise((resolve) => setTimeout(resolve, 500)),
    });
    expect(r.restarts).toHaveLength(1);
    expect(r.restarts[0]!.returnedAtMs).toBeGreaterThan(800);
    expect(r.sendPhaseMs).toBeGreaterThan(r.restarts[0]!.returnedAtMs);
    expect(r.restarts[0]!.resumed).toBe(true);
    expect(r.passed).toBe(true);
  });

  test('soak - a failing restart command fails the run', async () => {
    const r = await runSoak({ url: 'memory://soak-badrestart', durationMs: 700, rate: 50, connect: via(), restartEveryMs: 300, restartCommand: 'echo nope >&2; exit 3' });
    expect(r.restarts).toHaveLength(2);
    expect(r.restarts[0]!.ok).toBe(false);
    expect(r.restarts[0]!.error).toMatch(/exited with 3: nope/);
    expect(r.passed).toBe(false);
  });

  test('soak - a consumer whose loop dies is reported and reopened, and nothing is lost', async () => {
    const r = await runSoak({ url: 'memory://soak-die', durationMs: 1200, rate: 100, connect: dyingConsumers(300) });
    expect(r.consumerFailures).toHaveLength(1);
    expect(r.consumerFailures[0]).toMatchObject({ consumer: 1, recovered: true, code: 'untyped' });
    expect(r.counts.lost).toBe(0);
    expect(r.passed).toBe(true);
    expect(renderText(r)).toMatch(/consumer 1 ended .*reopened by the soak/);
  });

  test('soak - what the library reports through onError is counted by origin and code', async () => {
    const r = await runSoak({
      url: 'memory://soak-onerror',
      durationMs: 300,
      rate: 50,
      consumers: 1,
      connect: async (url, options) => {
        const conn = await via()(url, options);
        options?.onError?.({ origin: 'reconnect', error: new SwitchboardError('connection', 'gone for a while') });
        return conn;
      },
    });
    expect(r.libraryErrors).toEqual([{ origin: 'reconnect', code: 'connection', count: 2, example: 'gone for a while' }]);
    expect(r.passed).toBe(true);
    expect(renderText(r)).toMatch(/reported by the library \(onError\): reconnect\/connection 2/);
  });

  test('soak - an aborted run closes and resolves, marked aborted and not passed', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    const r = await runSoak({ url: 'memory://soak-abort', durationMs: 60_000, rate: 100, connect: via(), signal: ac.signal });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.aborted).toBe(true);
    expect(r.passed).toBe(false);
    expect(r.failures).toContain('the run was aborted');
  });

  test('soak - bad options are invalid_argument before anything opens', async () => {
    await expect(runSoak({ url: 'memory://', durationMs: 0, rate: 1, connect: via() })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(runSoak({ url: 'memory://', durationMs: 100, rate: 1, connect: via(), restartCommand: 'true' })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
