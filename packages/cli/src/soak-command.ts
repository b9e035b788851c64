import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { parseUrl, redactUrl, SwitchboardError } from '@switchboard/core';
import {
  MIN_SOAK_MESSAGE_SIZE,
  parseDuration,
  parseRate,
  renderMarkdown,
  renderText,
  runSoak,
  SOAK_DEFAULTS,
  toJson,
  type SoakResult,
} from '@switchboard/soak';
import { type Output, UsageError } from './output';

/** Defaults of `switchboard soak` (beyond those of the soak engine). */
export const SOAK_COMMAND_DEFAULTS = { duration: '2m', rate: 200, restartEvery: '30s' } as const;

/** The parsed arguments of `switchboard soak`. */
export interface SoakArgs {
  url: string;
  durationMs: number;
  rate: number;
  consumers: number;
  concurrency: number;
  size: number;
  restartCommand: string | undefined;
  /** Set when there is a restart command. */
  restartEveryMs: number | undefined;
  drainMs: number;
  json: boolean;
  out: string | undefined;
}

function duration(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

function integer(flag: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer of at least ${min}, got "${value}"`);
  return n;
}

function parseSoakFlags(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: {
      url: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      consumers: { type: 'string' },
      concurrency: { type: 'string' },
      size: { type: 'string' },
      'restart-command': { type: 'string' },
      'restart-every': { type: 'string' },
      drain: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
}

/**
 * Parses the arguments after `soak`; throws {@link UsageError} on anything wrong: an unknown flag,
 * a bad URL, duration, rate or count, `--restart-every` without `--restart-command`, a restart
 * interval that leaves no restart inside the duration, an `--out` that is not `.md`.
 * `env` supplies `SWITCHBOARD_URL` (default `process.env`).
 */
export function parseSoakArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): SoakArgs {
  let values: ReturnType<typeof parseSoakFlags>['values'];
  try {
    ({ values } = parseSoakFlags(args));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const url = values.url ?? env.SWITCHBOARD_URL ?? 'memory://';
  try {
    parseUrl(url);
  } catch (err) {
    throw new UsageError(`--url: ${(err as Error).message}`);
  }
  const durationMs = duration('--duration', values.duration ?? SOAK_COMMAND_DEFAULTS.duration);
  let rate: number = SOAK_COMMAND_DEFAULTS.rate;
  if (values.rate !== undefined) {
    try {
      rate = parseRate(values.rate);
    } catch (err) {
      throw new UsageError(`--rate: ${(err as Error).message}`);
    }
  }
  const restartCommand = values['restart-command'];
  if (restartCommand !== undefined && restartCommand.trim() === '') throw new UsageError('--restart-command needs a command');
  if (values['restart-every'] !== undefined && restartCommand === undefined) throw new UsageError('--restart-every needs --restart-command');
  const restartEveryMs = restartCommand === undefined ? undefined : duration('--restart-every', values['restart-every'] ?? SOAK_COMMAND_DEFAULTS.restartEvery);
  if (restartEveryMs !== undefined && restartEveryMs >= durationMs) {
    throw new UsageError(`--restart-every (${restartEveryMs} ms) must be shorter than --duration (${durationMs} ms), or no restart would happen`);
  }
  if (values.out !== undefined && !/\.md$/i.test(values.out)) throw new UsageError(`--out ${values.out}: use a .md file name`);
  return {
    url,
    durationMs,
    rate,
    consumers: integer('--consumers', values.consumers, SOAK_DEFAULTS.consumers),
    concurrency: integer('--concurrency', values.concurrency, SOAK_DEFAULTS.concurrency),
    size: integer('--size', values.size, SOAK_DEFAULTS.size, MIN_SOAK_MESSAGE_SIZE),
    restartCommand,
    restartEveryMs,
    drainMs: values.drain === undefined ? SOAK_DEFAULTS.drainMs : duration('--drain', values.drain),
    json: values.json ?? false,
    out: values.out,
  };
}

/**
 * `switchboard soak`: runs one soak (see `runSoak` in `@switchboard/soak`) and prints the text report
 * (or, with `--json`, the result as JSON) on stdout, progress lines on stderr; `--out` also writes the
 * report as Markdown. Resolves with 0 when the soak passed (no loss, ...), 1 when it did not or could
 * not start (connection refused, ...). Usage errors are thrown as {@link UsageError} (exit 2 in `main`).
 * SIGINT / SIGTERM end the run early: it closes, reports what it has, and exits 1.
 */
export async function soakCommand(argv: readonly string[], out: Output, signal?: AbortSignal): Promise<number> {
  const args = parseSoakArgs(argv);
  const ac = new AbortController();
  const stop = () => ac.abort(new Error('interrupted'));
  const onSignal = signal ? () => stop() : undefined;
  if (onSignal) signal!.addEventListener('abort', onSignal, { once: true });
  const own = signal === undefined;
  if (own) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  let result: SoakResult;
  try {
    out.log(
      `soak ${redactUrl(args.url)}: ${argv.length ? argv.join(' ') : 'defaults'} (${args.durationMs / 1000} s at ${args.rate}/s, ${args.consumers} consumers${args.restartCommand ? `, restart every ${args.restartEveryMs! / 1000} s` : ''})`,
    );
    result = await runSoak({
      url: args.url,
      durationMs: args.durationMs,
      rate: args.rate,
      consumers: args.consumers,
      concurrency: args.concurrency,
      size: args.size,
      restartCommand: args.restartCommand,
      restartEveryMs: args.restartEveryMs,
      drainMs: args.drainMs,
      signal: ac.signal,
      onProgress: (line) => out.log(`soak: ${line}`),
    });
  } catch (err) {
    const e = err instanceof SwitchboardError ? `${err.code} error: ${err.message}` : (err as Error).message;
    out.log(`switchboard: soak against ${redactUrl(args.url)} could not start: ${e}`);
    return 1;
  } finally {
    if (onSignal) signal!.removeEventListener('abort', onSignal);
    if (own) {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }
  out.stdout(`${args.json ? toJson(result) : renderText(result)}\n`);
  if (args.out) {
    fs.writeFileSync(args.out, renderMarkdown(result));
    out.log(`wrote ${args.out}`);
  }
  return result.passed ? 0 : 1;
}
