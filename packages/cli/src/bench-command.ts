import fs from 'node:fs';
import path from 'node:path';
import { listBackends, parseUrl } from '@switchboard/core';
import {
  IDLE_LIMITS,
  IMPL_IDS,
  MIN_MESSAGE_SIZE,
  renderIdleMarkdown,
  renderIdleText,
  renderMarkdown,
  renderProfileSummary,
  renderText,
  runBench,
  runIdleBench,
  summarizeProfile,
  toJson,
  WORKLOAD_DEFAULTS,
  type BenchReport,
  type CpuProfile,
  type IdleReport,
  type ImplId,
} from '@switchboard/bench';
import { type CommandSpec, parseFlags, stringFlag } from './flags';
import { type Output, UsageError, writeUserFile } from './output';

/** Backend packages of the registry that are installed, for a run's child process to register. */
function installedDriverModules(): string[] {
  return [...new Set(listBackends().map((b) => b.package))].flatMap((pkg) => {
    try {
      return [require.resolve(pkg)];
    } catch {
      return [];
    }
  });
}

/**
 * Defaults of `switchboard bench`: 200,000 messages or 10 s of sending, whichever is longer, three
 * repetitions; soak checkpoints every 100,000 messages from 1,000,000 messages on.
 */
export const BENCH_DEFAULTS = {
  urls: ['memory://'],
  messages: 200_000,
  minSeconds: 10,
  size: 256,
  repeat: 3,
  deadlineSeconds: 300,
  /** `--heap-every` when not given and `--messages` is at least {@link BENCH_DEFAULTS.soakFrom}. */
  soakHeapEvery: 100_000,
  soakFrom: 1_000_000,
  /** `--max-backlog` when not given and heap checkpoints are on (a soak); otherwise no limit. */
  soakMaxBacklog: 10_000,
} as const;

/** What `switchboard bench` was asked to do. */
export interface BenchArgs {
  urls: string[];
  messages: number;
  /** Keep sending at least this long (0: exactly `messages`). */
  minSeconds: number;
  size: number;
  repeat: number;
  /** Heap after GC every this many messages (0: off). */
  heapEvery: number;
  /** Messages sent and not yet acked before the producer waits (0: no limit). */
  maxBacklog: number;
  /** Only these implementations; undefined: all. */
  impls: ImplId[] | undefined;
  /** Folder for `--cpu-prof` profiles; undefined: no profiling. */
  cpuProf: string | undefined;
  deadlineSeconds: number;
  /** `--consumers K`: the idle-consumers measurement instead of the throughput one. */
  consumers: number | undefined;
  idleSeconds: number;
  probes: number;
  json: boolean;
  out: string | undefined;
}

function integer(flag: string, value: string | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} needs an integer ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}, got "${value}"`);
  }
  return n;
}

/** `switchboard bench`: its help and its flags (parsed from this table, so the help lists every flag). */
export const BENCH_COMMAND: CommandSpec = {
  name: 'bench',
  summary: 'Time Switchboard against the raw client on each URL, or K idle consumers.',
  synopsis: '[--url URL ...] [flags]   |   switchboard bench --consumers K [--url URL ...] [flags]',
  description: `Runs one workload through the raw client of each URL and through Switchboard on the same broker, alternately, and prints throughput, latency, CPU and memory with the Switchboard/raw ratio (median and min-max of the repetitions). memory:// has no raw client, so only Switchboard runs there. Each run is a child process of its own when the CLI runs compiled.

With --consumers K it measures idle consumers instead: K consumers on one connection, each on its own queue, raw and Switchboard: heap, RSS, sockets, idle CPU over --idle-seconds and creation time per consumer.

Results go to stdout (a table, or one JSON document with --json); progress and errors go to stderr.`,
  flags: {
    url: { type: 'string', multiple: true, value: 'URL', help: `A broker to measure; repeat for several (default ${BENCH_DEFAULTS.urls.join(', ')}).` },
    messages: { type: 'string', value: 'N', help: `Messages per run (default ${BENCH_DEFAULTS.messages}). From ${BENCH_DEFAULTS.soakFrom} on, heap checkpoints and a backlog limit turn on (see --heap-every, --max-backlog).` },
    'min-seconds': { type: 'string', value: 'S', help: `Keep sending at least S seconds, whichever of N messages or S seconds is longer (default ${BENCH_DEFAULTS.minSeconds}; 0 to 3600; 0 sends exactly N).` },
    size: { type: 'string', value: 'BYTES', help: `Message body size (default ${BENCH_DEFAULTS.size}; ${MIN_MESSAGE_SIZE} to 16777216).` },
    repeat: { type: 'string', value: 'R', help: `Repetitions of each implementation, alternating (default ${BENCH_DEFAULTS.repeat}; 1 to 100).` },
    impls: { type: 'string', value: 'ID,ID...', help: `Only these implementations: ${IMPL_IDS.join(', ')} (default: every one the URL has).` },
    'heap-every': { type: 'string', value: 'N', help: `Force a GC and record the heap every N acked messages (default ${BENCH_DEFAULTS.soakHeapEvery} from --messages ${BENCH_DEFAULTS.soakFrom} on, else 0: off).` },
    'max-backlog': { type: 'string', value: 'N', help: `The producer waits while N messages are sent and not acked (default ${BENCH_DEFAULTS.soakMaxBacklog} when --heap-every is on, else 0: no limit).` },
    'cpu-prof': { type: 'string', value: 'DIR', help: 'Write a V8 CPU profile of every run to DIR and a summary to DIR/summary.md.' },
    deadline: { type: 'string', value: 'S', help: `Give up a run after S seconds (default ${BENCH_DEFAULTS.deadlineSeconds}; at most 86400).` },
    consumers: { type: 'string', value: 'K', help: `Measure K idle consumers instead (1 to ${IDLE_LIMITS.maxConsumers}); the throughput flags do not apply then.` },
    'idle-seconds': { type: 'string', value: 'S', help: `With --consumers: how long they sit idle while CPU is measured (default ${IDLE_LIMITS.defaultIdleSeconds}).` },
    probes: { type: 'string', value: 'P', help: `With --consumers: confirmed sends to P distinct consumers' queues afterwards, timed (default ${IDLE_LIMITS.defaultProbes}; 0: none).` },
    json: { type: 'boolean', help: 'Print one JSON document on stdout instead of the table.' },
    out: { type: 'string', value: 'FILE.md', help: 'Also write the results as Markdown to FILE.md.' },
  },
  exitStatus: '0  every run finished\n1  a run failed (it is listed; the others still report)\n2  usage error',
};

/** Parses the arguments after `bench`; throws {@link UsageError} on anything wrong. */
export function parseBenchArgs(args: readonly string[]): BenchArgs {
  const { values: raw } = parseFlags(BENCH_COMMAND, args);
  const values = {
    url: raw.url as string[] | undefined,
    messages: stringFlag(raw, 'messages'),
    'min-seconds': stringFlag(raw, 'min-seconds'),
    size: stringFlag(raw, 'size'),
    repeat: stringFlag(raw, 'repeat'),
    'heap-every': stringFlag(raw, 'heap-every'),
    'max-backlog': stringFlag(raw, 'max-backlog'),
    impls: stringFlag(raw, 'impls'),
    'cpu-prof': stringFlag(raw, 'cpu-prof'),
    deadline: stringFlag(raw, 'deadline'),
    consumers: stringFlag(raw, 'consumers'),
    'idle-seconds': stringFlag(raw, 'idle-seconds'),
    probes: stringFlag(raw, 'probes'),
    json: raw.json === true,
    out: stringFlag(raw, 'out'),
  };
  const urls = values.url?.length ? values.url : [...BENCH_DEFAULTS.urls];
  for (const u of urls) {
    try {
      parseUrl(u);
    } catch (err) {
      throw new UsageError(`--url: ${(err as Error).message}`);
    }
  }
  if (values.out !== undefined && !/\.md$/i.test(values.out)) throw new UsageError(`--out ${values.out}: use a .md file name`);
  let impls: ImplId[] | undefined;
  if (values.impls !== undefined) {
    const list = values.impls.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = list.filter((s) => !(IMPL_IDS as readonly string[]).includes(s));
    if (list.length === 0 || bad.length) throw new UsageError(`--impls: unknown ${bad.length ? bad.map((b) => `"${b}"`).join(', ') : '(empty)'}; known: ${IMPL_IDS.join(', ')}`);
    impls = list as ImplId[];
  }
  if (values['cpu-prof'] !== undefined && values['cpu-prof'].trim() === '') throw new UsageError('--cpu-prof needs a folder');
  const messages = integer('--messages', values.messages, BENCH_DEFAULTS.messages);
  const consumers = values.consumers === undefined ? undefined : integer('--consumers', values.consumers, IDLE_LIMITS.defaultConsumers, 1, IDLE_LIMITS.maxConsumers);
  const idleOnly = ['idle-seconds', 'probes'] as const;
  for (const f of idleOnly) if (values[f] !== undefined && consumers === undefined) throw new UsageError(`--${f} needs --consumers K`);
  if (consumers !== undefined) {
    for (const f of ['messages', 'min-seconds', 'size', 'repeat', 'heap-every', 'max-backlog', 'impls', 'cpu-prof'] as const) {
      if (values[f] !== undefined) throw new UsageError(`--${f} does not apply to --consumers (the idle-consumers measurement)`);
    }
  }
  const heapEvery = integer('--heap-every', values['heap-every'], messages >= BENCH_DEFAULTS.soakFrom ? BENCH_DEFAULTS.soakHeapEvery : 0, 0);
  return {
    urls,
    messages,
    minSeconds: integer('--min-seconds', values['min-seconds'], BENCH_DEFAULTS.minSeconds, 0, 3600),
    size: integer('--size', values.size, BENCH_DEFAULTS.size, MIN_MESSAGE_SIZE, 16 * 1024 * 1024),
    repeat: integer('--repeat', values.repeat, BENCH_DEFAULTS.repeat, 1, 100),
    heapEvery,
    maxBacklog: integer('--max-backlog', values['max-backlog'], heapEvery > 0 ? BENCH_DEFAULTS.soakMaxBacklog : 0, 0),
    impls,
    cpuProf: values['cpu-prof'],
    deadlineSeconds: integer('--deadline', values.deadline, BENCH_DEFAULTS.deadlineSeconds, 1, 24 * 3600),
    consumers,
    idleSeconds: integer('--idle-seconds', values['idle-seconds'], IDLE_LIMITS.defaultIdleSeconds, 1, 3600),
    probes: integer('--probes', values.probes, IDLE_LIMITS.defaultProbes, 0, IDLE_LIMITS.maxConsumers),
    json: values.json ?? false,
    out: values.out,
  };
}

function jsonOf(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v), 2);
}

/** Summarises every `.cpuprofile` in `dir` into `dir/summary.md` and returns that text. */
function summarizeProfiles(dir: string): string {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort() : [];
  const parts = files.map((f) => renderProfileSummary(f, summarizeProfile(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as CpuProfile)));
  const text = parts.join('\n');
  fs.writeFileSync(path.join(dir, 'summary.md'), text);
  return text;
}

/**
 * `switchboard bench`: runs the workload with each raw client and with Switchboard on each URL
 * (each run in its own child process when the CLI runs compiled) and prints a table (or, with
 * `--json`, one JSON document) on stdout; `--out` also writes the table as Markdown. With
 * `--consumers K` it measures K idle consumers on one connection instead. Resolves with 0 when
 * every run succeeded, 1 when any failed. Usage errors are thrown as {@link UsageError} (exit 2 in `main`).
 */
export async function benchCommand(argv: readonly string[], out: Output): Promise<number> {
  const args = parseBenchArgs(argv);
  const onProgress = (line: string) => (out.progress ? out.progress(`bench: ${line}`) : undefined);
  if (args.consumers !== undefined) {
    let report: IdleReport;
    try {
      report = await runIdleBench({
        urls: args.urls,
        params: {
          consumers: args.consumers,
          idleMs: args.idleSeconds * 1000,
          probes: args.probes,
          prefetch: WORKLOAD_DEFAULTS.prefetch,
          deadlineMs: args.deadlineSeconds * 1000,
        },
        isolate: { driverModules: installedDriverModules() },
        onProgress,
      });
    } finally {
      out.progress?.(undefined);
    }
    for (const r of report.results) for (const i of r.impls) if (i.error) out.log(`${r.backend} ${i.impl}: ${i.error}`);
    out.stdout(`${args.json ? jsonOf(report) : renderIdleText(report)}\n`);
    if (args.out) {
      writeUserFile(args.out, renderIdleMarkdown(report));
      out.log(`wrote ${args.out}`);
    }
    return report.ok ? 0 : 1;
  }
  let report: BenchReport;
  try {
    report = await runBench({
      urls: args.urls,
      messages: args.messages,
      size: args.size,
      repeat: args.repeat,
      minDurationMs: args.minSeconds * 1000,
      heapEvery: args.heapEvery,
      maxBacklog: args.maxBacklog,
      deadlineMs: args.deadlineSeconds * 1000,
      impls: args.impls,
      cpuProfileDir: args.cpuProf,
      isolate: { driverModules: installedDriverModules() },
      onProgress,
    });
  } finally {
    out.progress?.(undefined);
  }
  for (const r of report.results) for (const e of r.errors) out.log(`${r.backend}: ${e}`);
  out.stdout(`${args.json ? toJson(report) : renderText(report)}\n`);
  if (args.out) {
    writeUserFile(args.out, renderMarkdown(report));
    out.log(`wrote ${args.out}`);
  }
  if (args.cpuProf && report.params.isolation === 'process') {
    summarizeProfiles(args.cpuProf);
    out.log(`wrote ${path.join(args.cpuProf, 'summary.md')}`);
  }
  return report.ok ? 0 : 1;
}
