import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
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
import { type Output, UsageError } from './output';

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

/** Parses the arguments after `bench`; throws {@link UsageError} on anything wrong. */
export function parseBenchArgs(args: readonly string[]): BenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        url: { type: 'string', multiple: true },
        messages: { type: 'string' },
        'min-seconds': { type: 'string' },
        size: { type: 'string' },
        repeat: { type: 'string' },
        'heap-every': { type: 'string' },
        'max-backlog': { type: 'string' },
        impls: { type: 'string' },
        'cpu-prof': { type: 'string' },
        deadline: { type: 'string' },
        consumers: { type: 'string' },
        'idle-seconds': { type: 'string' },
        probes: { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
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
      fs.writeFileSync(args.out, renderIdleMarkdown(report));
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
    fs.writeFileSync(args.out, renderMarkdown(report));
    out.log(`wrote ${args.out}`);
  }
  if (args.cpuProf && report.params.isolation === 'process') {
    summarizeProfiles(args.cpuProf);
    out.log(`wrote ${path.join(args.cpuProf, 'summary.md')}`);
  }
  return report.ok ? 0 : 1;
}
