import { listBackends, registerDriver, SwitchboardError, type Driver } from '@switchboard/core';
import { BENCH_COMMAND, benchCommand } from './bench-command';
import { CONFORMANCE_COMMAND, REPORT_COMMAND, conformanceCommand, parseConformanceArgs, reportCommand } from './conformance-command';
import { type CommandSpec, renderCommandHelp, wantsHelp } from './flags';
import { SOAK_COMMAND, soakCommand } from './soak-command';
import { type Output, UsageError } from './output';

/** The commands, in the order the overview lists them. */
export const COMMANDS: readonly CommandSpec[] = [CONFORMANCE_COMMAND, REPORT_COMMAND, BENCH_COMMAND, SOAK_COMMAND];

/** The overview: `switchboard --help` (or `help`, `-h`). Each command's flags are in its own help. */
export const USAGE = `switchboard: one messaging API over real brokers, and proof of what each one guarantees

Usage: switchboard <command> [flags]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join('\n')}
  ${'help [COMMAND]'.padEnd(16)}This overview, or a command's help.

Run 'switchboard <command> --help' for a command's flags, defaults and exit status.

URLs (brokers run locally with their defaults):
${listBackends()
  .map((b) => `  ${b.displayName.padEnd(16)} ${b.localUrl ?? `${b.schemes[0]}://`}${b.variants ? `  (${b.variants.map((v) => `${v.schemes[0]}:// ${v.displayName}`).join(', ')})` : ''}`)
  .join('\n')}
`;

/** The text of `switchboard <name> --help`; undefined for an unknown command. */
export function commandHelp(name: string): string | undefined {
  const spec = COMMANDS.find((c) => c.name === name);
  return spec && renderCommandHelp(spec);
}

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

const HELP_WORDS = new Set(['help', '--help', '-h']);

/** A message in one line: a multi-line one (e.g. a configuration error's list of problems) joined with "; ". */
function oneLine(message: string): string {
  return message
    .split('\n')
    .map((l) => l.trim().replace(/^- /, ''))
    .filter(Boolean)
    .join('; ');
}

/** Prints a usage error as one line plus a hint to the help, and returns exit status 2. */
function usageError(out: Output, command: string | undefined, message: string): number {
  const who = command ? `switchboard ${command}` : 'switchboard';
  out.log(`${who}: ${oneLine(message)}\nrun '${who} --help' for usage`);
  return 2;
}

/**
 * Runs the CLI; resolves with the exit status. `--help` / `-h` (or `help [COMMAND]`) print help on
 * stdout and exit 0; a usage error prints one line plus a hint on stderr and exits 2; other bad
 * input (a `SwitchboardError`: a bad URL, a file that cannot be read) prints one line and exits 2.
 */
export async function main(argv: readonly string[], out: Output): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) return usageError(out, undefined, `no command given: one of ${COMMANDS.map((c) => c.name).join(', ')}, help`);
  if (HELP_WORDS.has(command)) {
    const topic = rest[0];
    if (command !== 'help' || topic === undefined || HELP_WORDS.has(topic)) {
      out.stdout(USAGE);
      return 0;
    }
    const help = commandHelp(topic);
    if (help === undefined) return usageError(out, undefined, `unknown command "${topic}"`);
    out.stdout(help);
    return 0;
  }
  const spec = COMMANDS.find((c) => c.name === command);
  if (!spec) return usageError(out, undefined, `unknown command "${command}"`);
  if (wantsHelp(rest)) {
    out.stdout(renderCommandHelp(spec));
    return 0;
  }
  try {
    switch (spec.name) {
      case 'conformance': {
        const args = parseConformanceArgs(rest);
        registerInstalledDrivers();
        return await conformanceCommand(args, out);
      }
      case 'report':
        return reportCommand(rest, out);
      case 'bench':
        registerInstalledDrivers();
        return await benchCommand(rest, out);
      default:
        registerInstalledDrivers();
        return await soakCommand(rest, out);
    }
  } catch (err) {
    if (err instanceof UsageError) return usageError(out, spec.name, err.message);
    if (err instanceof SwitchboardError) {
      out.log(`switchboard ${spec.name}: ${err.code} error: ${oneLine(err.message)}`);
      return 2;
    }
    throw err;
  }
}
