import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, parseSoakArgs, UsageError, type Output } from '@switchboard/cli';

function capture(): Output & { out: string; err: string } {
  const o = { out: '', err: '' } as Output & { out: string; err: string };
  o.stdout = (t) => void (o.out += t);
  o.log = (t) => void (o.err += `${t}\n`);
  return o;
}

describe('cli soak', () => {
  test('cli soak - arguments parse into milliseconds and counts, with defaults', () => {
    expect(parseSoakArgs([], {})).toEqual({
      url: 'memory://',
      durationMs: 120_000,
      rate: 200,
      consumers: 2,
      concurrency: 8,
      size: 256,
      restartCommand: undefined,
      restartEveryMs: undefined,
      drainMs: 60_000,
      json: false,
      out: undefined,
    });
    expect(parseSoakArgs([], { SWITCHBOARD_URL: 'nats://127.0.0.1:4222' }).url).toBe('nats://127.0.0.1:4222');
    const a = parseSoakArgs(
      ['--url', 'kafka://127.0.0.1:9092', '--duration', '10m', '--rate', '50/s', '--consumers', '3', '--restart-command', 'scripts/brokers restart kafka', '--restart-every', '1m30s', '--drain', '2m', '--json', '--out', 'r.md'],
      {},
    );
    expect(a).toMatchObject({ url: 'kafka://127.0.0.1:9092', durationMs: 600_000, rate: 50, consumers: 3, restartCommand: 'scripts/brokers restart kafka', restartEveryMs: 90_000, drainMs: 120_000, json: true, out: 'r.md' });
    expect(parseSoakArgs(['--duration', '2m', '--restart-command', 'true'], {}).restartEveryMs).toBe(30_000);
  });

  test('cli soak - bad input is a typed usage error naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['--duration', 'soon'], /--duration: "soon" is not a duration/],
      [['--duration', '0s'], /--duration/],
      [['--rate', '0'], /--rate: "0" is not a rate/],
      [['--consumers', '0'], /--consumers needs an integer of at least 1/],
      [['--consumers', '1.5'], /--consumers/],
      [['--size', '8'], /--size needs an integer of at least 48/],
      [['--restart-every', '30s'], /--restart-every needs --restart-command/],
      [['--restart-command', ''], /--restart-command needs a command/],
      [['--duration', '30s', '--restart-command', 'true', '--restart-every', '30s'], /must be shorter than --duration/],
      [['--restart-command', 'true', '--restart-every', 'often'], /--restart-every: "often"/],
      [['--out', 'r.txt'], /use a \.md file name/],
      [['--url', 'nourl'], /--url/],
      [['--drain', '-1s'], /--drain/],
    ];
    for (const [args, message] of cases) {
      let thrown: unknown;
      try {
        parseSoakArgs(args, {});
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(UsageError);
      expect((thrown as Error).message).toMatch(message);
    }
  });

  test('cli soak - usage errors exit 2 with one line and a hint to --help on stderr and nothing on stdout', async () => {
    for (const args of [['soak', '--rate', 'x'], ['soak', '--nope'], ['soak', 'positional'], ['soak', '--restart-every', '5s']]) {
      const o = capture();
      expect(await main(args, o)).toBe(2);
      expect(o.err).toMatch(/^switchboard soak: .+\nrun 'switchboard soak --help' for usage\n$/);
      expect(o.out).toBe('');
    }
  });

  test('cli soak - a short run on memory:// with a no-op restart exits 0 and writes JSON and Markdown', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-soak-'));
    const md = path.join(dir, 'soak.md');
    const o = capture();
    const code = await main(['soak', '--url', 'memory://cli-soak', '--duration', '2s', '--rate', '100', '--restart-command', 'true', '--restart-every', '800ms', '--json', '--out', md], o);
    expect(code).toBe(0);
    const r = JSON.parse(o.out);
    expect(r).toMatchObject({ backend: 'memory', passed: true, failures: [] });
    expect(r.counts.lost).toBe(0);
    expect(r.counts.received).toBe(r.counts.confirmed);
    expect(r.restarts).toHaveLength(2);
    expect(r.restarts.every((x: { resumed: boolean }) => x.resumed)).toBe(true);
    expect(o.err).toMatch(/soak: restart 1 at/);
    expect(fs.readFileSync(md, 'utf8')).toMatch(/## Soak: memory \(passed\)/);
  });

  test('cli soak - a broker that cannot be reached exits 1 and says why', async () => {
    const o = capture();
    const code = await main(['soak', '--url', 'nats://127.0.0.1:1?connectTimeoutMs=1000', '--duration', '1s'], o);
    expect(code).toBe(1);
    expect(o.err).toMatch(/could not start: connection error/);
    expect(o.out).toBe('');
  });
});
