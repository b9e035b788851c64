import { parseArgs } from 'node:util';
import { UsageError } from './output';

/** One flag of a command: how it parses and what its help says. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** The flag may be given more than once (values collect into an array). */
  readonly multiple?: boolean;
  /** The value's placeholder in the help, e.g. `URL` (string flags). */
  readonly value?: string;
  /** What the flag does, its default and its range; wrapped in the help. */
  readonly help: string;
}

/** A command of the CLI as its help shows it; its flags are also what it parses. */
export interface CommandSpec {
  readonly name: string;
  /** One line for the overview (`switchboard --help`). */
  readonly summary: string;
  /** What follows `switchboard <name>` in the usage line, e.g. `[flags]` or `FILE.json... --out FILE`. */
  readonly synopsis: string;
  /** What the command does (paragraphs separated by blank lines). */
  readonly description: string;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** The exit statuses, one per line. */
  readonly exitStatus: string;
}

type ParseOptions = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** True when the arguments ask for help (`--help` or `-h` anywhere before `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** One line for a `node:util` parseArgs error (its own messages span several lines). */
function parseErrorLine(err: Error & { code?: string }): string {
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? '';
  const flag = quoted.split(' ')[0] ?? quoted;
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `${flag} takes no value`;
      return `${flag} needs a value (write ${flag}=VALUE for a value that starts with "-")`;
    default:
      return err.message.split('\n')[0]!;
  }
}

/**
 * Parses `args` against the command's flags (strict: unknown flags, missing values and, unless
 * `positionals` is set, positional arguments are errors). Throws {@link UsageError} with one line.
 */
export function parseFlags(spec: CommandSpec, args: readonly string[], positionals = false) {
  const options: ParseOptions = {};
  for (const [name, f] of Object.entries(spec.flags)) options[name] = f.multiple ? { type: f.type, multiple: true } : { type: f.type };
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: positionals });
    return { values: parsed.values as Record<string, string | boolean | string[] | undefined>, positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError(parseErrorLine(err as Error & { code?: string }));
  }
}

/** Reads a string flag (undefined when absent). */
export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && indent.length + line.length + 1 + word.length > width) {
        lines.push(indent + line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line ? indent + line : '');
  }
  return lines;
}

/** The text of `switchboard <command> --help`: usage, description, every flag, exit status. */
export function renderCommandHelp(spec: CommandSpec, width = 100): string {
  const out = [`Usage: switchboard ${spec.name} ${spec.synopsis}`, ''];
  for (const para of spec.description.split('\n\n')) out.push(...wrap(para.replace(/\n/g, ' '), width, '  '), '');
  out.push('Flags:');
  const entries = Object.entries(spec.flags);
  const heads = entries.map(([name, f]) => `--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`);
  const col = Math.min(30, Math.max(...heads.map((h) => h.length), '-h, --help'.length) + 4);
  const row = (head: string, help: string) => {
    const body = wrap(help, width, ' '.repeat(col));
    const first = `  ${head}`;
    if (first.length < col) body[0] = first.padEnd(col) + body[0]!.slice(col);
    else body.unshift(first);
    out.push(...body);
  };
  entries.forEach(([, f], i) => row(heads[i]!, f.help));
  row('-h, --help', 'Show this help.');
  out.push('', 'Exit status:', ...spec.exitStatus.split('\n').map((l) => `  ${l}`), '');
  return out.join('\n');
}
