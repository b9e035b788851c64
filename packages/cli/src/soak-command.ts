import { parseUrl, redactUrl, SwitchboardError } from '@switchboard/core';
import {
  MIN_SOAK_MESSAGE_SIZE,
  parseDuration,
  parseRate,
  renderMarkdown,
  renderText,
  rotatingNodeKills,
  runSoak,
  SOAK_DEFAULTS,
  toJson,
  type SoakResult,
} from '@switchboard/soak';
import { runShell } from './conformance-command';
import { type CommandSpec, parseFlags, stringFlag } from './flags';
import { clusterControlOf, NODE_FLAGS, parseNodeCommands, type NodeCommands } from './node-commands';
import { type Output, UsageError, writeUserFile } from './output';

/** Defaults of `switchboard soak` (beyond those of the soak engine). */
export const SOAK_COMMAND_DEFAULTS = { duration: '2m', rate: 200, restartEvery: '30s', downFor: '10s' } as const;

/** The parsed arguments of `switchboard soak`. */
export interface SoakArgs {
  url: string;
  durationMs: number;
  rate: number;
  consumers: number;
  concurrency: number;
  size: number;
  restartCommand: string | undefined;
  /** Instead of a restart: crash one node of a cluster at each interval (the next of `nodes` each time), wait `downForMs`, start it. */
  nodeCommands: NodeCommands | undefined;
  downForMs: number | undefined;
  /** Set when there is a restart command or node commands. */
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

/** `switchboard soak`: its help and its flags (parsed from this table, so the help lists every flag). */
export const SOAK_COMMAND: CommandSpec = {
  name: 'soak',
  summary: 'Send steadily, restart the broker at intervals, count what was lost.',
  synopsis: '[--url URL] [--duration D] [--rate R] [--restart-command CMD | --kill-command CMD --start-command CMD] [--restart-every D] [flags]',
  description: `Sends at RATE messages per second for DURATION to a fresh queue read by competing consumers, runs CMD (which must return once the broker serves again) every interval, then drains, and counts sent, confirmed, received, duplicates and lost, send errors by code and the time to resume after each restart. The queue is deleted at the end. SIGINT or SIGTERM ends the run early; it then reports what it has and exits 1.

The report goes to stdout (text, or one JSON document with --json); progress lines go to stderr. Durations are a number with ms, s, m or h (e.g. 30s, 2m, 1m30s; a bare number is seconds).`,
  flags: {
    url: { type: 'string', value: 'URL', help: 'The broker (default: $SWITCHBOARD_URL, else memory://).' },
    duration: { type: 'string', value: 'D', help: `How long to send (default ${SOAK_COMMAND_DEFAULTS.duration}).` },
    rate: { type: 'string', value: 'R', help: `Messages per second, paced evenly; "200" or "200/s" (default ${SOAK_COMMAND_DEFAULTS.rate}).` },
    consumers: { type: 'string', value: 'N', help: `Competing consumers of one group, each on its own connection (default ${SOAK_DEFAULTS.consumers}).` },
    concurrency: { type: 'string', value: 'N', help: `Handlers each consumer runs at once, its consume({ concurrency }) (default ${SOAK_DEFAULTS.concurrency}).` },
    size: { type: 'string', value: 'BYTES', help: `Message body size (default ${SOAK_DEFAULTS.size}; at least ${MIN_SOAK_MESSAGE_SIZE}).` },
    'restart-command': { type: 'string', value: 'CMD', help: "A shell command (run with bash -c) that restarts the broker and returns once it serves again, e.g. './scripts/brokers restart nats'." },
    ...NODE_FLAGS,
    'down-for': { type: 'string', value: 'D', help: `With --kill-command: how long a killed node stays down before --start-command (default ${SOAK_COMMAND_DEFAULTS.downFor}).` },
    'restart-every': { type: 'string', value: 'D', help: `Run --restart-command (or kill the next of --nodes) every D, while that is inside --duration (default ${SOAK_COMMAND_DEFAULTS.restartEvery}; needs --restart-command or --kill-command).` },
    drain: { type: 'string', value: 'D', help: `After sending, how long to wait at most for pending sends and every confirmed message (default ${SOAK_DEFAULTS.drainMs / 1000}s).` },
    json: { type: 'boolean', help: 'Print the result as one JSON document on stdout instead of the text report.' },
    out: { type: 'string', value: 'FILE.md', help: 'Also write the report as Markdown to FILE.md.' },
  },
  exitStatus: '0  nothing lost, no failure\n1  a loss or another failure, or the run could not start or was interrupted\n2  usage error',
};

/**
 * Parses the arguments after `soak`; throws {@link UsageError} on anything wrong: an unknown flag,
 * a bad URL, duration, rate or count, `--restart-every` without `--restart-command`, a restart
 * interval that leaves no restart inside the duration, an `--out` that is not `.md`.
 * `env` supplies `SWITCHBOARD_URL` (default `process.env`).
 */
export function parseSoakArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): SoakArgs {
  const { values: raw } = parseFlags(SOAK_COMMAND, args);
  const values = {
    url: stringFlag(raw, 'url'),
    duration: stringFlag(raw, 'duration'),
    rate: stringFlag(raw, 'rate'),
    consumers: stringFlag(raw, 'consumers'),
    concurrency: stringFlag(raw, 'concurrency'),
    size: stringFlag(raw, 'size'),
    'restart-command': stringFlag(raw, 'restart-command'),
    'restart-every': stringFlag(raw, 'restart-every'),
    'down-for': stringFlag(raw, 'down-for'),
    drain: stringFlag(raw, 'drain'),
    json: raw.json === true,
    out: stringFlag(raw, 'out'),
  };
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
  const nodeCommands = parseNodeCommands({ kill: stringFlag(raw, 'kill-command'), start: stringFlag(raw, 'start-command'), nodes: stringFlag(raw, 'nodes') });
  if (nodeCommands && restartCommand !== undefined) throw new UsageError('--restart-command and --kill-command exclude each other (one disruption per run)');
  if (values['down-for'] !== undefined && !nodeCommands) throw new UsageError('--down-for needs --kill-command');
  const disrupts = restartCommand !== undefined || nodeCommands !== undefined;
  if (values['restart-every'] !== undefined && !disrupts) throw new UsageError('--restart-every needs --restart-command or --kill-command');
  const restartEveryMs = !disrupts ? undefined : duration('--restart-every', values['restart-every'] ?? SOAK_COMMAND_DEFAULTS.restartEvery);
  const downForMs = nodeCommands ? duration('--down-for', values['down-for'] ?? SOAK_COMMAND_DEFAULTS.downFor) : undefined;
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
    nodeCommands,
    downForMs,
    restartEveryMs,
    drainMs: values.drain === undefined ? SOAK_DEFAULTS.drainMs : duration('--drain', values.drain),
    json: values.json ?? false,
    out: values.out,
  };
}

/** The soak's disruption with node commands: kill the next node, leave it down `downForMs`, start it. */
export function nodeKiller(c: NodeCommands, downForMs: number, signal?: AbortSignal, run: (command: string) => Promise<void> = runShell): () => Promise<void> {
  return rotatingNodeKills(clusterControlOf(c, run), downForMs, signal);
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
      `soak ${redactUrl(args.url)}: ${argv.length ? argv.join(' ') : 'defaults'} (${args.durationMs / 1000} s at ${args.rate}/s, ${args.consumers} consumers${args.restartCommand ? `, restart every ${args.restartEveryMs! / 1000} s` : ''}${args.nodeCommands ? `, a node killed every ${args.restartEveryMs! / 1000} s for ${args.downForMs! / 1000} s` : ''})`,
    );
    result = await runSoak({
      url: args.url,
      durationMs: args.durationMs,
      rate: args.rate,
      consumers: args.consumers,
      concurrency: args.concurrency,
      size: args.size,
      ...(args.nodeCommands
        ? { restartCommand: nodeKiller(args.nodeCommands, args.downForMs!, ac.signal), restartLabel: `kill a node (${args.nodeCommands.nodes.join(', ')} in turn), ${args.downForMs! / 1000} s down, start it: ${args.nodeCommands.kill} / ${args.nodeCommands.start}` }
        : { restartCommand: args.restartCommand }),
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
    writeUserFile(args.out, renderMarkdown(result));
    out.log(`wrote ${args.out}`);
  }
  return result.passed ? 0 : 1;
}
