import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { areaOf, countFds, perConsumer, summarizeProfile, type CpuProfile, type IdleMeasurement } from '@switchboard/bench';

const snap = (heapUsed: number, rss: number, sockets: number) => ({ heapUsed, rss, sockets, fds: sockets + 5 });

describe('idle consumers', () => {
  test('idle consumers - per-consumer figures are the growth over K, and idle CPU is the rate above the idle connection per 30 s', () => {
    const m: IdleMeasurement = {
      consumers: 100,
      base: snap(10_000_000, 50_000_000, 3),
      created: snap(11_000_000, 52_000_000, 103),
      idle: snap(11_100_000, 60_000_000, 103),
      createMs: 250,
      createFirstHalfMs: 120,
      createSecondHalfMs: 130,
      baseIdleMs: 10_000,
      baseIdleCpuMs: 10,
      idleMs: 30_000,
      idleCpuMs: 330,
      probes: 20,
      probeSendP50Ms: 1,
      probeSendMaxMs: 3,
      probeReceivedMs: 40,
      closeMs: 12,
    };
    const p = perConsumer(m);
    expect(p.heapBytes).toBe(10_000);
    expect(p.rssBytes).toBe(20_000);
    expect(p.rssAfterIdleBytes).toBe(100_000);
    expect(p.sockets).toBe(1);
    // 330 ms per 30 s minus the connection's own 1 ms/s (30 ms per 30 s), over 100 consumers.
    expect(p.idleCpuMsPer30s).toBeCloseTo(3, 10);
    expect(p.createMs).toBe(2.5);
    expect(perConsumer({ ...m, idleCpuMs: 1 }).idleCpuMsPer30s).toBe(0);
  });

  test('idle consumers - counts file descriptors and those that are sockets', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fd-'));
    fs.symlinkSync('socket:[123]', path.join(dir, '3'));
    fs.symlinkSync('socket:[124]', path.join(dir, '4'));
    fs.symlinkSync('/dev/null', path.join(dir, '5'));
    expect(countFds(dir)).toEqual({ fds: 3, sockets: 2 });
    expect(countFds(path.join(dir, 'missing'))).toEqual({ fds: NaN, sockets: NaN });
  });
});

describe('profile summary', () => {
  test('profile summary - areas come from the script URL', () => {
    expect(areaOf('file:///w/node_modules/.pnpm/kafkajs@2.2.4/node_modules/kafkajs/src/x.js', 'f')).toBe('kafkajs');
    expect(areaOf('file:///w/node_modules/.pnpm/@nats-io+nats-core@3.4.0/node_modules/@nats-io/nats-core/lib/x.js', 'f')).toBe('@nats-io/nats-core');
    expect(areaOf('file:///w/packages/core/dist/consumer-engine.js', 'f')).toBe('@switchboard/core');
    expect(areaOf('node:internal/timers', 'f')).toBe('node');
    expect(areaOf('', '(garbage collector)')).toBe('(garbage collector)');
  });

  test('profile summary - self time per function and area, inclusive time for Switchboard functions, idle left out', () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0, columnNumber: 0 });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 5, 6] },
        { id: 2, callFrame: frame('dispatch', 'file:///nowhere/packages/core/dist/engine.js'), children: [3] },
        { id: 3, callFrame: frame('encode', 'file:///nowhere/node_modules/kafkajs/src/enc.js'), children: [4] },
        { id: 4, callFrame: frame('dispatch', 'file:///nowhere/packages/core/dist/engine.js'), children: [] },
        { id: 5, callFrame: frame('(idle)', ''), children: [] },
        { id: 6, callFrame: frame('(garbage collector)', ''), children: [] },
      ],
      samples: [2, 3, 3, 4, 5, 6],
      timeDeltas: [1000, 2000, 2000, 1000, 5000, 4000],
    };
    const s = summarizeProfile(profile, 5);
    expect(s.busyMs).toBe(10);
    expect(s.idleMs).toBe(5);
    expect(s.areas).toEqual([
      { area: 'kafkajs', selfMs: 4 },
      { area: '(garbage collector)', selfMs: 4 },
      { area: '@switchboard/core', selfMs: 2 },
    ]);
    const dispatch = s.topSwitchboardTotal.find((e) => e.name.startsWith('dispatch'))!;
    // Self 1 + 1 ms; on the stack of every sample but idle and GC (the recursion counted once).
    expect(dispatch).toMatchObject({ selfMs: 2, totalMs: 6 });
    expect(s.topSelf[0]!.name).toMatch(/^encode kafkajs\/src\/enc\.js:1$/);
  });
});
