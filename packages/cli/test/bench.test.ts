import { main, type Output } from '@switchboard/cli';
import { BENCH_DEFAULTS, parseBenchArgs } from '../src/bench-command';
import { UsageError } from '../src/output';

function capture(): Output & { out: string; err: string } {
  const o = { out: '', err: '' } as Output & { out: string; err: string };
  o.stdout = (t) => void (o.out += t);
  o.log = (t) => void (o.err += `${t}\n`);
  return o;
}

describe('cli bench', () => {
  test('cli bench - --json on memory:// prints one JSON report with both Switchboard modes and no raw client', async () => {
    const o = capture();
    const code = await main(['bench', '--url', 'memory://cli-bench', '--messages', '300', '--min-seconds', '0', '--size', '64', '--repeat', '2', '--json'], o);
    expect(o.err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(o.out);
    expect(report.ok).toBe(true);
    expect(report.params).toMatchObject({ messages: 300, size: 64, repeat: 2, minDurationMs: 0, heapEvery: 0 });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.load.start).toHaveLength(3);
    expect(report.results).toHaveLength(1);
    const [r] = report.results;
    expect(r).toMatchObject({ backend: 'memory', url: 'memory://cli-bench', raw: null, errors: [], ratioRows: [] });
    expect(r.ratios.endToEndRate).toBeNull();
    expect(r.impls.map((i: { id: string }) => i.id)).toEqual(['switchboard', 'switchboard-amo']);
    expect(r.switchboard.client).toBe('switchboard');
    expect(r.switchboard.runs).toHaveLength(2);
    for (const key of ['wallMs', 'publishRate', 'endToEndRate', 'p50Ms', 'p99Ms', 'rssPeak', 'heapDelta', 'cpuMicrosPerMessage']) {
      expect(typeof r.switchboard.summary[key]).toBe('number');
    }
    expect(r.switchboard.summary.spread.endToEndRate).toEqual({ median: expect.any(Number), min: expect.any(Number), max: expect.any(Number) });
    expect(r.switchboard.runs[0].messages).toBe(300);
    expect(r.switchboard.runs[0].duplicates).toBe(0);
  });

  test('cli bench - --heap-every records heap after GC at each checkpoint', async () => {
    const o = capture();
    const code = await main(['bench', '--messages', '400', '--min-seconds', '0', '--repeat', '1', '--impls', 'switchboard', '--heap-every', '200', '--json'], o);
    expect(code).toBe(0);
    const run = JSON.parse(o.out).results[0].switchboard.runs[0];
    expect(run.heapCheckpoints.map((c: { messages: number }) => c.messages)).toEqual([200, 400]);
  });

  test('cli bench - --consumers on memory:// reports per-consumer figures for Switchboard only', async () => {
    const o = capture();
    const code = await main(['bench', '--url', 'memory://cli-idle', '--consumers', '4', '--idle-seconds', '1', '--probes', '2', '--json'], o);
    expect(o.err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(o.out);
    expect(report.params).toMatchObject({ consumers: 4, idleMs: 1000, probes: 2 });
    const [r] = report.results;
    expect(r.impls).toHaveLength(1);
    expect(r.impls[0]).toMatchObject({ impl: 'switchboard', error: null });
    expect(r.impls[0].measurement).toMatchObject({ consumers: 4, probes: 2 });
    expect(typeof r.impls[0].perConsumer.heapBytes).toBe('number');
  });

  test('cli bench - usage errors exit 2', async () => {
    for (const args of [['bench', '--messages', '0'], ['bench', '--size', '8'], ['bench', '--repeat', 'x'], ['bench', '--out', 'x.txt'], ['bench', '--url', 'nourl'], ['bench', '--nope']]) {
      const o = capture();
      expect(await main(args, o)).toBe(2);
      expect(o.err).toMatch(/^switchboard( \w+)?: .+\nrun 'switchboard( \w+)? --help' for usage\n$/);
      expect(o.out).toBe('');
    }
  });

  test('cli bench - defaults are 200k messages or 10 s, 3 repetitions, no soak checkpoints below 1M messages', () => {
    expect(parseBenchArgs([])).toMatchObject({
      urls: ['memory://'],
      messages: 200_000,
      minSeconds: 10,
      size: 256,
      repeat: 3,
      heapEvery: 0,
      impls: undefined,
      cpuProf: undefined,
      consumers: undefined,
      json: false,
    });
    expect(BENCH_DEFAULTS.messages).toBe(200_000);
  });

  test('cli bench - --messages 1000000 turns on heap checkpoints every 100k and a 10k backlog limit unless flags say otherwise', () => {
    expect(parseBenchArgs(['--messages', '1000000'])).toMatchObject({ heapEvery: 100_000, maxBacklog: 10_000 });
    expect(parseBenchArgs(['--messages', '1000000', '--max-backlog', '0']).maxBacklog).toBe(0);
    expect(parseBenchArgs([]).maxBacklog).toBe(0);
    expect(parseBenchArgs(['--messages', '1000000', '--heap-every', '0']).heapEvery).toBe(0);
    expect(parseBenchArgs(['--messages', '5000', '--heap-every', '1000']).heapEvery).toBe(1000);
  });

  test('cli bench - repeatable --url, --impls list, --cpu-prof folder and --consumers with its idle flags', () => {
    const a = parseBenchArgs(['--url', 'memory://', '--url', 'nats://127.0.0.1:4222', '--impls', 'raw,switchboard', '--cpu-prof', '/tmp/p', '--min-seconds', '0']);
    expect(a).toMatchObject({ urls: ['memory://', 'nats://127.0.0.1:4222'], impls: ['raw', 'switchboard'], cpuProf: '/tmp/p', minSeconds: 0 });
    expect(parseBenchArgs(['--consumers', '500', '--idle-seconds', '10', '--probes', '5'])).toMatchObject({ consumers: 500, idleSeconds: 10, probes: 5 });
    expect(parseBenchArgs(['--consumers', '7'])).toMatchObject({ consumers: 7, idleSeconds: 30, probes: 20 });
  });

  test('cli bench - bad flags are typed usage errors that name the flag', () => {
    const bad: [string[], RegExp][] = [
      [['--messages', '-1'], /--messages/],
      [['--messages', '1.5'], /--messages/],
      [['--messages', ''], /--messages/],
      [['--repeat', '0'], /--repeat/],
      [['--min-seconds', '-1'], /--min-seconds/],
      [['--heap-every', 'x'], /--heap-every/],
      [['--max-backlog', '-5'], /--max-backlog/],
      [['--impls', 'raw,fast'], /--impls: unknown "fast"/],
      [['--impls', ','], /--impls/],
      [['--consumers', '0'], /--consumers needs an integer from 1 to 1000/],
      [['--consumers', '1001'], /--consumers needs an integer from 1 to 1000/],
      [['--consumers', '5', '--messages', '10'], /--messages does not apply to --consumers/],
      [['--idle-seconds', '5'], /--idle-seconds needs --consumers/],
      [['--cpu-prof', ''], /--cpu-prof needs a folder/],
      [['--out', 'x.json'], /--out/],
      [['--frobnicate'], /frobnicate/],
      [['stray'], /stray/],
    ];
    for (const [args, message] of bad) {
      let thrown: unknown;
      try {
        parseBenchArgs(args);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(UsageError);
      expect((thrown as Error).message).toMatch(message);
    }
  });
});
