import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, nodeKiller, parseSoakArgs, UsageError, type Output } from '@switchboard/cli';

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
      [['--restart-every', '30s'], /--restart-every needs --restart-command or --kill-command/],
      [['--kill-command', 'k {node}'], /--kill-command and --start-command go together/],
      [['--kill-command', 'k', '--start-command', 's {node}'], /--kill-command needs \{node\}/],
      [['--kill-command', 'k {node}', '--start-command', 's {node}', '--restart-command', 'r'], /exclude each other/],
      [['--kill-command', 'k {node}', '--start-command', 's {node}', '--nodes', '1,$(rm -rf x)'], /--nodes: "\$\(rm -rf x\)" is not a node name/],
      [['--down-for', '5s'], /--down-for needs --kill-command/],
      [['--nodes', '1,2'], /--nodes needs --kill-command and --start-command/],
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

  test('cli soak - node commands parse with the default nodes and down time', () => {
    const a = parseSoakArgs(['--kill-command', './scripts/brokers cluster kill nats {node}', '--start-command', './scripts/brokers cluster start nats {node}'], {});
    expect(a).toMatchObject({ restartCommand: undefined, downForMs: 10_000, restartEveryMs: 30_000 });
    expect(a.nodeCommands).toEqual({ kill: './scripts/brokers cluster kill nats {node}', start: './scripts/brokers cluster start nats {node}', nodes: ['1', '2', '3'] });
    expect(parseSoakArgs(['--kill-command', 'k {node}', '--start-command', 's {node}', '--nodes', 'a, b', '--down-for', '2s'], {})).toMatchObject({ nodeCommands: { nodes: ['a', 'b'] }, downForMs: 2000 });
  });

  test('cli soak - the node killer kills the nodes in turn and starts each again after its down time', async () => {
    const ran: string[] = [];
    const kill = nodeKiller({ kill: 'kill {node}', start: 'start {node}', nodes: ['a', 'b'] }, 1, undefined, async (c) => void ran.push(c));
    await kill();
    await kill();
    await kill();
    expect(ran).toEqual(['kill a', 'start a', 'kill b', 'start b', 'kill a', 'start a']);
  });

  test('cli soak - a short run on memory:// with node commands runs them and names them in the report', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-soak-'));
    const log = path.join(dir, 'nodes.log');
    const o = capture();
    const code = await main(['soak', '--url', 'memory://cli-soak-nodes', '--duration', '2s', '--rate', '100', '--kill-command', `echo kill {node} >> ${log}`, '--start-command', `echo start {node} >> ${log}`, '--nodes', 'x,y', '--down-for', '100ms', '--restart-every', '800ms', '--json'], o);
    expect(code).toBe(0);
    const r = JSON.parse(o.out);
    expect(r.params.restartCommand).toMatch(/^kill a node \(x, y in turn\), 0.1 s down, start it: echo kill \{node\}/);
    expect(r.restarts).toHaveLength(2);
    expect(fs.readFileSync(log, 'utf8')).toBe('kill x\nstart x\nkill y\nstart y\n');
  });

  test('cli soak - a broker that cannot be reached exits 1 and says why', async () => {
    const o = capture();
    const code = await main(['soak', '--url', 'nats://127.0.0.1:1?connectTimeoutMs=1000', '--duration', '1s'], o);
    expect(code).toBe(1);
    expect(o.err).toMatch(/could not start: connection error/);
    expect(o.out).toBe('');
  });
});
