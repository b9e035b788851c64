import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { listBackends, registerDriver, SwitchboardError, type Driver } from '@switchboard/core';
import type { ConformanceReport } from '@switchboard/conformance';
import { benchCommand } from './bench-command';
import { soakCommand } from './soak-command';
import { conformanceCommand, writeReport } from './conformance-command';
import { type Output, UsageError } from './output';

export const USAGE = `switchboard: one messaging API over real brokers, and proof of what each one guarantees

Usage:
  switchboard conformance [--url URL] [--name NAME] [--json] [--report FILE.md|FILE.html|FILE.json]
                          [--only ID,ID...] [--restart-command CMD] [--load-count N]
                          [--time-scale X] [--concurrency N]
      Runs the conformance catalogue against URL (default: $SWITCHBOARD_URL or memory://).
      Exit status: 0 nothing failed, 1 a case failed, 2 usage or connection error.
  switchboard report FILE.json... --out FILE.md|FILE.html
      Merges saved JSON reports into one matrix.
  switchboard bench [--url URL ...] [--messages N] [--min-seconds S] [--size BYTES] [--repeat R]
                    [--impls raw,raw-batch,raw-ack,switchboard,switchboard-amo] [--heap-every N]
                    [--max-backlog N] [--cpu-prof DIR] [--deadline S] [--json] [--out FILE.md]
      Times the raw clients and Switchboard on each URL (default memory://, which has no raw client):
      N messages (default 200000) or S seconds of sending (default 10), whichever is longer, of BYTES
      (default 256), R repetitions (default 3) alternating, median and min-max shown. From N=1000000
      on, heap after GC every 100000 messages (--heap-every) with at most 10000 unacked (--max-backlog).
      --cpu-prof DIR writes a CPU profile per run and a summary.
  switchboard bench --consumers K [--url URL ...] [--idle-seconds S] [--probes P] [--json] [--out FILE.md]
      K idle consumers (default 100, at most 1000) on one connection, each on its own queue: heap,
      RSS, sockets, idle CPU over S seconds (default 30) and creation time per consumer, raw and Switchboard.
      Exit status: 0 every run passed, 1 a run failed, 2 usage error.
  switchboard soak [--url URL] [--duration 2m] [--rate 200] [--consumers 2] [--concurrency 8] [--size BYTES]
                   [--restart-command CMD --restart-every 30s] [--drain 60s] [--json] [--out FILE.md]
      Sends at RATE msg/s for DURATION to a fresh queue read by competing consumers, runs CMD (which
      must return once the broker serves again) every interval, then drains, and counts sent /
      confirmed / received / duplicates / lost, send errors by code and the time to resume per restart.
      Exit status: 0 nothing lost, 1 a loss or another failure, 2 usage error.
  switchboard help

URLs (brokers run locally with their defaults):
${listBackends()
  .map((b) => `  ${b.displayName.padEnd(16)} ${b.localUrl ?? `${b.schemes[0]}://`}${b.variants ? `  (${b.variants.map((v) => `${v.schemes[0]}:// ${v.displayName}`).join(', ')})` : ''}`)
  .join('\n')}
`;

/** Loads every backend package of the registry that is installed; each registers its driver on import. */
export function registerInstalledDrivers(): void {
  for (const pkg of new Set(listBackends().map((b) => b.package))) {
    let mod: { driver?: Driver };
    try {
      mod = require(pkg) as { driver?: Driver };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(pkg)) continue;
      throw err;
    }
    if (mod.driver) registerDriver(mod.driver);
  }
}

function positiveNumber(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${flag} needs a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  return n;
}

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: readonly string[], out: Output): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'conformance': {
        const { values } = parseArgs({
          args: [...rest],
          options: {
            url: { type: 'string' },
            name: { type: 'string' },
            json: { type: 'boolean', default: false },
            report: { type: 'string' },
            only: { type: 'string' },
            'restart-command': { type: 'string' },
            'load-count': { type: 'string' },
            'time-scale': { type: 'string' },
            concurrency: { type: 'string' },
          },
          strict: true,
          allowPositionals: false,
        });
        registerInstalledDrivers();
        return await conformanceCommand(
          {
            url: values.url ?? process.env.SWITCHBOARD_URL ?? 'memory://',
            name: values.name,
            json: values.json ?? false,
            report: values.report,
            only: values.only?.split(','),
            restartCommand: values['restart-command'],
            loadCount: positiveNumber('--load-count', values['load-count'], true),
            timeScale: positiveNumber('--time-scale', values['time-scale'], false),
            concurrency: positiveNumber('--concurrency', values.concurrency, true),
          },
          out,
        );
      }
      case 'report': {
        const { values, positionals } = parseArgs({ args: [...rest], options: { out: { type: 'string' } }, allowPositionals: true, strict: true });
        if (!values.out || positionals.length === 0) throw new UsageError('report needs JSON report files and --out FILE.md|FILE.html');
        const reports = positionals.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as ConformanceReport);
        writeReport(values.out, reports);
        out.log(`wrote ${values.out}`);
        return 0;
      }
      case 'bench':
        registerInstalledDrivers();
        return await benchCommand(rest, out);
      case 'soak':
        registerInstalledDrivers();
        return await soakCommand(rest, out);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith?.('ERR_PARSE_ARGS')) {
      out.log(`switchboard: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof SwitchboardError) {
      out.log(`switchboard: ${err.code} error: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
