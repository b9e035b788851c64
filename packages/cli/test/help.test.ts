import { COMMANDS, commandHelp, main, USAGE, type Output } from '@switchboard/cli';

function capture(): Output & { out: string; err: string } {
  const o = { out: '', err: '' } as Output & { out: string; err: string };
  o.stdout = (t) => void (o.out += t);
  o.log = (t) => void (o.err += `${t}\n`);
  return o;
}

/** Every flag each command takes, written out here so dropping one from a command (or its help) fails. */
const EXPECTED_FLAGS: Record<string, string[]> = {
  conformance: ['url', 'name', 'json', 'report', 'only', 'restart-command', 'kill-command', 'start-command', 'nodes', 'load-count', 'time-scale', 'concurrency'],
  report: ['out'],
  bench: ['url', 'messages', 'min-seconds', 'size', 'repeat', 'impls', 'heap-every', 'max-backlog', 'cpu-prof', 'deadline', 'consumers', 'idle-seconds', 'probes', 'json', 'out'],
  soak: ['url', 'duration', 'rate', 'consumers', 'concurrency', 'size', 'restart-command', 'kill-command', 'start-command', 'nodes', 'down-for', 'restart-every', 'drain', 'json', 'out'],
};

/** The help line of `--flag`: the flag at the start of a row, followed by its description. */
function flagRow(help: string, flag: string): string | undefined {
  const lines = help.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^  --${flag}( [A-Z.,|]+)?( |$)`).test(l));
  if (i < 0) return undefined;
  const rest = lines[i]!.replace(/^ {2}--\S+( [A-Z.,|]+)?/, '').trim();
  return rest || lines[i + 1]?.trim();
}

describe('cli help', () => {
  test('cli help - the commands are conformance, report, bench and soak', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(Object.keys(EXPECTED_FLAGS));
  });

  test.each(Object.entries(EXPECTED_FLAGS))('cli help - %s --help documents every flag and exits 0', async (name, flags) => {
    const o = capture();
    expect(await main([name, '--help'], o)).toBe(0);
    expect(o.err).toBe('');
    expect(o.out).toMatch(new RegExp(`^Usage: switchboard ${name} `));
    expect(o.out).toMatch(/Exit status:\n {2}0 /);
    expect(Object.keys(COMMANDS.find((c) => c.name === name)!.flags).sort()).toEqual([...flags].sort());
    for (const flag of flags) {
      const row = flagRow(o.out, flag);
      expect({ flag, documented: (row ?? '').length > 10 }).toEqual({ flag, documented: true });
    }
    expect(flagRow(o.out, 'help')).toBeUndefined();
    expect(o.out).toContain('-h, --help');
  });

  test('cli help - the flags the issue names say what they do', () => {
    const conformance = commandHelp('conformance')!;
    expect(flagRow(conformance, 'restart-command')).toMatch(/restarts the broker/);
    expect(flagRow(conformance, 'time-scale')).toMatch(/Multiply every wait/);
    expect(flagRow(conformance, 'concurrency')).toMatch(/Cases run at once/);
    expect(flagRow(commandHelp('soak')!, 'concurrency')).toMatch(/Handlers each consumer runs at once/);
  });

  test('cli help - -h, help COMMAND and --help after other flags print the same help', async () => {
    const outs: string[] = [];
    for (const args of [['bench', '--help'], ['bench', '-h'], ['help', 'bench'], ['bench', '--url', 'memory://', '--nope', '--help']]) {
      const o = capture();
      expect(await main(args, o)).toBe(0);
      expect(o.err).toBe('');
      outs.push(o.out);
    }
    expect(new Set(outs).size).toBe(1);
    expect(outs[0]).toBe(commandHelp('bench'));
  });

  test('cli help - the overview lists each command and points at its --help', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const o = capture();
      expect(await main(args, o)).toBe(0);
      expect(o.out).toBe(USAGE);
    }
    for (const c of COMMANDS) expect(USAGE).toMatch(new RegExp(`^ {2}${c.name} +${c.summary.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    expect(USAGE).toContain("Run 'switchboard <command> --help'");
    expect(USAGE).toMatch(/memory:\/\//);
  });
});

describe('cli usage errors', () => {
  const cases: [string[], string, RegExp][] = [
    [['conformance', '--nope'], 'conformance', /^unknown flag --nope$/],
    [['conformance', '--url'], 'conformance', /^--url needs a value/],
    [['conformance', '--url', '--json'], 'conformance', /^--url needs a value/],
    [['conformance', '--json=yes'], 'conformance', /^--json takes no value$/],
    [['conformance', 'stray'], 'conformance', /^unexpected argument "stray"$/],
    [['conformance', '--time-scale', '0'], 'conformance', /^--time-scale needs a positive number, got "0"$/],
    [['conformance', '--concurrency', '1.5'], 'conformance', /^--concurrency needs a positive integer/],
    [['conformance', '--report', 'x.txt'], 'conformance', /^--report x\.txt: use a \.md, \.html or \.json file name$/],
    [['conformance', '--only', 'ZZ9'], 'conformance', /ZZ9/],
    [['report'], 'report', /^give one or more JSON report files$/],
    [['report', 'a.json'], 'report', /^--out .* is required$/],
    [['report', 'a.json', '--out', 'x.txt'], 'report', /^--out x\.txt: use/],
    [['bench', '--messages', '0'], 'bench', /^--messages needs an integer/],
    [['bench', '--frobnicate'], 'bench', /^unknown flag --frobnicate$/],
    [['bench', '--url', 'nourl'], 'bench', /^--url: invalid URL: 1 problem; "nourl" has no scheme/],
    [['soak', '--rate', 'x'], 'soak', /^--rate: "x" is not a rate/],
    [['soak', '--restart-every', '5s'], 'soak', /^--restart-every needs --restart-command or --kill-command$/],
  ];
  test.each(cases)('cli usage errors - %j prints one line plus a hint to --help and exits 2', async (args, command, message) => {
    const o = capture();
    expect(await main(args, o)).toBe(2);
    expect(o.out).toBe('');
    const lines = o.err.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const prefix = `switchboard ${command}: `;
    expect(lines[0]!.startsWith(prefix)).toBe(true);
    expect(lines[0]!.slice(prefix.length)).toMatch(message);
    expect(lines[1]).toBe(`run 'switchboard ${command} --help' for usage`);
  });

  test('cli usage errors - no command or an unknown one: one line and a hint to switchboard --help', async () => {
    for (const [args, message] of [
      [[], /^switchboard: no command given: one of conformance, report, bench, soak, help$/],
      [['frobnicate'], /^switchboard: unknown command "frobnicate"$/],
      [['help', 'frobnicate'], /^switchboard: unknown command "frobnicate"$/],
    ] as [string[], RegExp][]) {
      const o = capture();
      expect(await main(args, o)).toBe(2);
      expect(o.out).toBe('');
      const lines = o.err.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toBe("run 'switchboard --help' for usage");
    }
  });
});
