import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { backendLabel, parseUrl, redactUrl } from '@switchboard/core';
import { rawKafka, rawKafkaBatch, rawKafkaWithIds } from './raw/kafka';
import { rawNats, rawNatsFireAndForget } from './raw/nats';
import { rawRabbitMQ, rawRabbitMQWithIds } from './raw/rabbitmq';
import { rawRedis, rawRedisWithIds } from './raw/redis';
import { rawSqs } from './raw/sqs';
import { runInChild, WORKER, type ChildResult } from './child-run';
import { median, ratio, spread, type Spread } from './stats';
import { switchboardTarget, type ConnectFn } from './switchboard-target';
import { runOnce, WORKLOAD_DEFAULTS, type BenchParams, type HeapCheckpoint, type RunMeasurement, type TargetFactory } from './workload';

/** The ordered-queue row: shards of the connection and distinct keys of the messages. */
export const ORDERED_BENCH = { partitions: 8, keys: 64 } as const;

/** Backends whose ordered queue is a `partitions` connection option (per-key order by shards). */
const SHARDED_ORDER = new Set(['rabbitmq', 'nats-jetstream']);

/** The raw-client baseline for a URL: which client and how to run it. */
export interface RawBaseline {
  /** e.g. "kafkajs 2.2.4". */
  readonly client: string;
  readonly factory: TargetFactory;
}

/**
 * Ids of the implementations a URL can be benchmarked with: `raw` is the raw client with the same
 * guarantee as Switchboard's defaults; `raw-batch` (kafkajs `eachBatch`), `raw-ids` (the raw client
 * sending what a Switchboard send puts on each message: kafkajs an `sb-message-id` header, amqplib a
 * `message_id` and a `timestamp`, Redis an `sb-id` field) and `raw-ack` (NATS fire-and-forget `msg.ack()`) are further raw
 * baselines; `switchboard` runs Switchboard's defaults
 * and `switchboard-amo` its cheaper guarantee, `ackMode: 'at-most-once'`; `switchboard-ack` (NATS
 * JetStream only) runs with the connection option `ackConfirm=false`, acks that do not wait for the
 * server, the same guarantee as `raw-ack`; `switchboard-ordered` (RabbitMQ and NATS JetStream) runs
 * an ordered queue: the connection option `partitions=`{@link ORDERED_BENCH}.partitions (unless the
 * URL names its own) and messages over {@link ORDERED_BENCH}.keys keys, so per-key order holds
 * across the group; its table row sits beside the unordered `switchboard` row.
 */
export const IMPL_IDS = ['raw', 'raw-batch', 'raw-ids', 'raw-ack', 'switchboard', 'switchboard-ack', 'switchboard-amo', 'switchboard-ordered'] as const;

/** One of {@link IMPL_IDS}. */
export type ImplId = (typeof IMPL_IDS)[number];

/** An implementation of the workload on one URL. */
export interface ImplSpec {
  readonly id: ImplId;
  readonly kind: 'raw' | 'switchboard';
  /** What the table shows, e.g. "kafkajs 2.2.4 eachBatch" or "switchboard at-most-once". */
  readonly client: string;
  /** The guarantee this implementation gives, in a few words. */
  readonly guarantee: string;
  /**
   * For raw rows: true when its guarantee equals Switchboard's default (ack after handling,
   * confirmed where Switchboard's ack is confirmed): the baseline the targets are judged on.
   */
  readonly equalGuarantee: boolean;
}

const localRequire = createRequire(__filename);

/** The installed version of a package, or `fallback` when its package.json cannot be read. */
function versionOf(pkg: string, fallback: string): string {
  try {
    return (localRequire(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return fallback;
  }
}

/** Backend name of a URL, as the registry reports it (memory, kafka, rabbitmq, sqs, nats-jetstream, nats-core); else the scheme. */
export function backendName(url: string): string {
  return backendLabel(parseUrl(url).redacted);
}

/**
 * The raw-client baseline for a URL, or `undefined` where there is none: `memory://` (no client
 * outside Switchboard), `nats+core://` (no broker confirm to compare with) and unknown schemes.
 */
export function rawBaselineFor(url: string): RawBaseline | undefined {
  switch (backendName(url)) {
    case 'kafka':
      return { client: `kafkajs ${versionOf('kafkajs', '2.2.4')}`, factory: rawKafka };
    case 'rabbitmq':
      return { client: `amqplib ${versionOf('amqplib', '2.3.1')}`, factory: rawRabbitMQ };
    case 'sqs':
      return { client: `@aws-sdk/client-sqs ${versionOf('@aws-sdk/client-sqs', '3.1175.0')}`, factory: rawSqs };
    case 'nats-jetstream':
      return { client: `@nats-io/jetstream ${versionOf('@nats-io/jetstream', '3.4.0')}`, factory: rawNats };
    case 'redis':
      return { client: `@redis/client ${versionOf('@redis/client', '6.3.1')}`, factory: rawRedis };
    default:
      return undefined;
  }
}

/**
 * The implementations benchmarked on a URL, raw ones first: every raw baseline the backend has,
 * then Switchboard's default and its at-most-once mode. `memory://` and `nats+core://` have no raw
 * client. `only` keeps the listed ids (in this order).
 */
export function implsFor(url: string, only?: readonly ImplId[]): ImplSpec[] {
  const backend = backendName(url);
  const base = rawBaselineFor(url);
  const specs: ImplSpec[] = [];
  const sbGuarantee = backend === 'nats-jetstream' ? 'ack after handling, confirmed by the server' : 'ack after handling';
  if (base) {
    if (backend === 'kafka') {
      specs.push({ id: 'raw', kind: 'raw', client: `${base.client} eachMessage`, guarantee: 'commit after handling (per batch)', equalGuarantee: true });
      specs.push({ id: 'raw-batch', kind: 'raw', client: `${base.client} eachBatch`, guarantee: 'commit after handling (per batch)', equalGuarantee: true });
      specs.push({ id: 'raw-ids', kind: 'raw', client: `${base.client} eachMessage sb-message-id`, guarantee: 'commit after handling (per batch)', equalGuarantee: true });
    } else if (backend === 'nats-jetstream') {
      specs.push({ id: 'raw', kind: 'raw', client: `${base.client} ackAck`, guarantee: 'ack after handling, confirmed by the server', equalGuarantee: true });
      specs.push({ id: 'raw-ack', kind: 'raw', client: `${base.client} ack`, guarantee: 'ack after handling, fire-and-forget', equalGuarantee: false });
    } else {
      specs.push({ id: 'raw', kind: 'raw', client: base.client, guarantee: 'ack after handling', equalGuarantee: true });
      if (backend === 'rabbitmq') specs.push({ id: 'raw-ids', kind: 'raw', client: `${base.client} message_id+timestamp`, guarantee: 'ack after handling', equalGuarantee: true });
      if (backend === 'redis') specs.push({ id: 'raw-ids', kind: 'raw', client: `${base.client} sb-id`, guarantee: 'ack after handling', equalGuarantee: true });
    }
  }
  specs.push({ id: 'switchboard', kind: 'switchboard', client: 'switchboard', guarantee: sbGuarantee, equalGuarantee: false });
  if (backend === 'nats-jetstream') {
    specs.push({ id: 'switchboard-ack', kind: 'switchboard', client: 'switchboard ackConfirm=false', guarantee: 'ack after handling, fire-and-forget', equalGuarantee: false });
  }
  specs.push({ id: 'switchboard-amo', kind: 'switchboard', client: 'switchboard at-most-once', guarantee: 'settled on receipt, before handling', equalGuarantee: false });
  if (SHARDED_ORDER.has(backend)) {
    const partitions = /[?&]partitions=(\d+)/.exec(url)?.[1] ?? String(ORDERED_BENCH.partitions);
    specs.push({ id: 'switchboard-ordered', kind: 'switchboard', client: `switchboard ordered (partitions=${partitions}, ${ORDERED_BENCH.keys} keys)`, guarantee: `${sbGuarantee}; per-key order across the group`, equalGuarantee: false });
  }
  return only ? specs.filter((s) => only.includes(s.id)) : specs;
}

/** The factory of an implementation on a URL; undefined when the URL has no such implementation. */
export function implFactory(url: string, id: ImplId, connect?: ConnectFn): TargetFactory | undefined {
  const backend = backendName(url);
  switch (id) {
    case 'raw':
      return rawBaselineFor(url)?.factory;
    case 'raw-batch':
      return backend === 'kafka' ? rawKafkaBatch : undefined;
    case 'raw-ids':
      return backend === 'rabbitmq' ? rawRabbitMQWithIds : backend === 'kafka' ? rawKafkaWithIds : backend === 'redis' ? rawRedisWithIds : undefined;
    case 'raw-ack':
      return backend === 'nats-jetstream' ? rawNatsFireAndForget : undefined;
    case 'switchboard':
      return switchboardTarget(connect);
    case 'switchboard-ack':
      return backend === 'nats-jetstream' ? (u, params) => switchboardTarget(connect)(withQuery(u, 'ackConfirm=false'), params) : undefined;
    case 'switchboard-amo':
      return switchboardTarget(connect, { ackMode: 'at-most-once' });
    case 'switchboard-ordered':
      if (!SHARDED_ORDER.has(backend)) return undefined;
      return (u, params) => switchboardTarget(connect, { keys: ORDERED_BENCH.keys })(/[?&]partitions=/.test(u) ? u : withQuery(u, `partitions=${ORDERED_BENCH.partitions}`), params);
  }
}

/** `url` with one more query parameter. */
function withQuery(url: string, param: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${param}`;
}

/** Median and min-max of each metric over the measured repetitions. */
export interface ImplSpreads {
  readonly endToEndRate: Spread | undefined;
  readonly publishRate: Spread | undefined;
  readonly p50Ms: Spread | undefined;
  readonly p99Ms: Spread | undefined;
  readonly heapDelta: Spread | undefined;
  readonly heapAfterGcDelta: Spread | undefined;
  readonly rssPeak: Spread | undefined;
  readonly cpuMicrosPerMessage: Spread | undefined;
}

/** Per-implementation medians over the measured repetitions. */
export interface ImplSummary {
  readonly runs: number;
  readonly wallMs: number;
  readonly setupMs: number;
  readonly publishRate: number;
  readonly endToEndRate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Highest RSS of the process during the run (bytes). */
  readonly rssPeak: number;
  /** RSS growth during the run (bytes). */
  readonly rssDelta: number;
  /** Peak V8 heap above the heap at the run's start (bytes). */
  readonly heapDelta: number;
  /** Heap after a forced GC at the run's end above the heap at its start (bytes; NaN without GC). */
  readonly heapAfterGcDelta: number;
  /** Process CPU per message (user + system, microseconds). */
  readonly cpuMicrosPerMessage: number;
  /** Messages per run (median; more than asked when the minimum duration extended the run). */
  readonly messages: number;
  readonly duplicates: number;
  /** Median with min-max of the metrics the table shows. */
  readonly spread: ImplSpreads;
}

/** One implementation's repetitions on one URL. */
export interface ImplResult {
  readonly id: ImplId;
  readonly kind: 'raw' | 'switchboard';
  /** "switchboard", or the raw client with its version. */
  readonly client: string;
  readonly guarantee: string;
  readonly equalGuarantee: boolean;
  /** Median of the successful repetitions; absent when none succeeded. */
  readonly summary: ImplSummary | undefined;
  readonly runs: RunMeasurement[];
}

/** Switchboard / raw, from the medians; `undefined` (null in JSON) without a raw baseline. */
export interface Ratios {
  readonly publishRate: number | undefined;
  readonly endToEndRate: number | undefined;
  readonly heapDelta: number | undefined;
  readonly rssPeak: number | undefined;
  readonly p99Ms: number | undefined;
  readonly heapAfterGcDelta: number | undefined;
  readonly cpuMicrosPerMessage: number | undefined;
}

/** One Switchboard row against one raw row. */
export interface RatioRow {
  readonly switchboard: ImplId;
  readonly raw: ImplId;
  /** e.g. "switchboard / kafkajs 2.2.4 eachBatch". */
  readonly label: string;
  /** The raw row gives the same guarantee as Switchboard's default row. */
  readonly equalGuarantee: boolean;
  readonly ratios: Ratios;
}

export interface BackendResult {
  /** The URL, password removed. */
  readonly url: string;
  readonly backend: string;
  /** Every implementation run, raw ones first. */
  readonly impls: ImplResult[];
  /** The equal-guarantee raw baseline (`raw`); absent where there is no raw client (memory://). */
  readonly raw: ImplResult | undefined;
  /** Switchboard with its defaults. */
  readonly switchboard: ImplResult | undefined;
  /** Switchboard (defaults) / the equal-guarantee raw baseline. */
  readonly ratios: Ratios;
  /** Every Switchboard row against every raw row. */
  readonly ratioRows: RatioRow[];
  /** One line per failed run ("raw run 2: ..."); the report is still produced. */
  readonly errors: string[];
}

/** A run handed to a child process. */
export interface IsolatedJob {
  readonly kind?: 'run';
  readonly impl: ImplId;
  readonly url: string;
  readonly destination: string;
  readonly params: BenchParams;
  /** Messages of an unrecorded run on `<destination>-w` in the same process first (0: none). */
  readonly warmupMessages: number;
  readonly driverModules: readonly string[];
  /** Extra node flags of the child, e.g. `--cpu-prof`. */
  readonly execArgv?: readonly string[];
}

/** What the child process sends back. */
export type IsolatedResult = ChildResult<RunMeasurement>;


/** Runs one job in a child process; the child is killed if it outlives its warm-up and run deadlines by 60 s. */
function runIsolated(job: IsolatedJob, onProgress?: (acked: number, sent: number) => void): Promise<RunMeasurement> {
  return runInChild<RunMeasurement>(job, job.execArgv ?? [], 2 * job.params.deadlineMs + 60_000, 'run process', onProgress);
}

export interface BenchReport {
  readonly date: string;
  readonly params: BenchParams & { readonly repeat: number; readonly warmupMessages: number; readonly isolation: 'process' | 'in-process' };
  /** Load average (1, 5, 15 min) when the run started and when it ended: how busy the machine was. */
  readonly load: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly platform: string; readonly node: string };
  readonly versions: Record<string, string>;
  readonly results: BackendResult[];
  /** False when any run (warm-ups included) failed. */
  readonly ok: boolean;
}

export interface BenchOptions {
  urls: readonly string[];
  messages: number;
  size: number;
  repeat: number;
  /** Messages of the unrecorded warm-up run of each implementation (default min(messages, 2000); 0 skips it). */
  warmupMessages?: number;
  batch?: number;
  inflight?: number;
  prefetch?: number;
  deadlineMs?: number;
  /** Keep producing until at least this long passed (default 0: exactly `messages`); see {@link BenchParams.minDurationMs}. */
  minDurationMs?: number;
  /** Soak checkpoints: heap after a forced GC every this many acked messages (default 0: none). */
  heapEvery?: number;
  /** Most messages sent but not acked before the producer waits (default 0: no limit); see {@link BenchParams.maxBacklog}. */
  maxBacklog?: number;
  /** Run only these implementations (default: every one the URL has). */
  impls?: readonly ImplId[];
  /**
   * Write a V8 CPU profile of every isolated run into this folder (`--cpu-prof`), named
   * `<backend>-<impl>-<round>.cpuprofile`. Needs `isolate`.
   */
  cpuProfileDir?: string;
  /** How the Switchboard runs connect in-process (default: `connect` of `@switchboard/core`). */
  connect?: ConnectFn;
  /**
   * Run each measurement in a fresh child process (`--expose-gc`), so RSS and heap start from the
   * same clean baseline every run; `driverModules` are resolved files of adapter packages the child
   * registers. Ignored (runs stay in-process) when the compiled worker is not there, e.g. under
   * ts-jest. Default: in-process.
   */
  isolate?: { driverModules: readonly string[] };
  /** Progress lines ("kafka raw run 1/2 ..."). */
  onProgress?: (line: string) => void;
}

/** Medians of each metric over the runs (each metric on its own), with min-max, or undefined for no runs. */
export function summarize(runs: readonly RunMeasurement[]): ImplSummary | undefined {
  if (runs.length === 0) return undefined;
  const m = (f: (r: RunMeasurement) => number) => median(runs.map(f)) ?? NaN;
  const sp = (f: (r: RunMeasurement) => number) => spread(runs.map(f));
  return {
    runs: runs.length,
    wallMs: m((r) => r.wallMs),
    setupMs: m((r) => r.setupMs),
    publishRate: m((r) => r.publishRate),
    endToEndRate: m((r) => r.endToEndRate),
    p50Ms: m((r) => r.p50Ms),
    p99Ms: m((r) => r.p99Ms),
    rssPeak: m((r) => r.memory.rssPeak),
    rssDelta: m((r) => r.memory.rssDelta),
    heapDelta: m((r) => r.memory.heapDelta),
    heapAfterGcDelta: m((r) => r.heapAfterGcDelta ?? NaN),
    cpuMicrosPerMessage: m((r) => r.cpuMicrosPerMessage ?? NaN),
    messages: m((r) => r.messages),
    duplicates: m((r) => r.duplicates),
    spread: {
      endToEndRate: sp((r) => r.endToEndRate),
      publishRate: sp((r) => r.publishRate),
      p50Ms: sp((r) => r.p50Ms),
      p99Ms: sp((r) => r.p99Ms),
      heapDelta: sp((r) => r.memory.heapDelta),
      heapAfterGcDelta: sp((r) => r.heapAfterGcDelta ?? NaN),
      rssPeak: sp((r) => r.memory.rssPeak),
      cpuMicrosPerMessage: sp((r) => r.cpuMicrosPerMessage ?? NaN),
    },
  };
}

/** Switchboard / raw for throughput, latency, memory and CPU. */
export function ratios(sb: ImplSummary | undefined, raw: ImplSummary | undefined): Ratios {
  return {
    publishRate: ratio(sb?.publishRate, raw?.publishRate),
    endToEndRate: ratio(sb?.endToEndRate, raw?.endToEndRate),
    heapDelta: ratio(sb?.heapDelta, raw?.heapDelta),
    rssPeak: ratio(sb?.rssPeak, raw?.rssPeak),
    p99Ms: ratio(sb?.p99Ms, raw?.p99Ms),
    heapAfterGcDelta: ratio(sb?.heapAfterGcDelta, raw?.heapAfterGcDelta),
    cpuMicrosPerMessage: ratio(sb?.cpuMicrosPerMessage, raw?.cpuMicrosPerMessage),
  };
}

/** Every Switchboard row against every raw row, Switchboard's default first. */
export function ratioRows(impls: readonly ImplResult[]): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const sb of impls.filter((i) => i.kind === 'switchboard')) {
    for (const raw of impls.filter((i) => i.kind === 'raw')) {
      rows.push({
        switchboard: sb.id,
        raw: raw.id,
        label: `${sb.client} / ${raw.client}`,
        // NATS: acks that do not wait (ackConfirm=false) give what fire-and-forget msg.ack() gives.
        equalGuarantee: (sb.id === 'switchboard' && raw.equalGuarantee) || (sb.id === 'switchboard-ack' && raw.id === 'raw-ack'),
        ratios: ratios(sb.summary, raw.summary),
      });
    }
  }
  // The ordered queue against the unordered one of the same run: what per-key order costs.
  const ordered = impls.find((i) => i.id === 'switchboard-ordered');
  const unordered = impls.find((i) => i.id === 'switchboard');
  if (ordered && unordered) {
    rows.push({ switchboard: ordered.id, raw: unordered.id, label: `${ordered.client} / switchboard unordered`, equalGuarantee: false, ratios: ratios(ordered.summary, unordered.summary) });
  }
  return rows;
}

/** An error as one line, with its Switchboard code when the message lacks it. */
export function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string };
  const text = e?.message ?? String(err);
  return e?.code && !text.includes(e.code) ? `${e.code}: ${text}` : text;
}

/** Load averages rounded to two decimals. */
function loadNow(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

/**
 * Runs the benchmark on each URL in turn. Per URL: one unrecorded warm-up run of each
 * implementation (with `isolate`: inside each run's process, before the measured part), then
 * `repeat` rounds that run every implementation once in turn (raw, ..., Switchboard, ...: ABAB, so
 * drift hits all of them), each on a fresh destination with fresh connections and its own deadline
 * (and, with `isolate`, in its own child process). A failed run is recorded in `errors` and the
 * rest go on; `ok` is false if anything failed.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const params: BenchParams = {
    messages: options.messages,
    size: options.size,
    batch: options.batch ?? WORKLOAD_DEFAULTS.batch,
    inflight: options.inflight ?? WORKLOAD_DEFAULTS.inflight,
    prefetch: options.prefetch ?? WORKLOAD_DEFAULTS.prefetch,
    deadlineMs: options.deadlineMs ?? WORKLOAD_DEFAULTS.deadlineMs,
    minDurationMs: options.minDurationMs ?? 0,
    heapEvery: options.heapEvery ?? 0,
    maxBacklog: options.maxBacklog ?? 0,
  };
  const warmupMessages = options.warmupMessages ?? Math.min(options.messages, 2000);
  const token = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const progress = options.onProgress ?? (() => undefined);
  const results: BackendResult[] = [];
  const isolate = options.isolate && fs.existsSync(WORKER) ? options.isolate : undefined;
  const loadStart = loadNow();
  if (options.cpuProfileDir && isolate) fs.mkdirSync(options.cpuProfileDir, { recursive: true });

  for (const url of options.urls) {
    const backend = backendName(url);
    const shown = redactUrl(url);
    const errors: string[] = [];
    const impls = implsFor(url, options.impls).flatMap((spec) => {
      const factory = implFactory(url, spec.id, options.connect);
      return factory ? [{ spec, factory, runs: [] as RunMeasurement[] }] : [];
    });

    const rounds: { round: number; warmup: boolean }[] = [];
    // Isolated runs warm up inside their own process (JIT and connections), so there is no warm-up round.
    if (warmupMessages > 0 && !isolate) rounds.push({ round: 0, warmup: true });
    for (let r = 1; r <= options.repeat; r++) rounds.push({ round: r, warmup: false });
    for (const { round, warmup } of rounds) {
      for (const impl of impls) {
        const name = warmup ? 'warm-up' : `run ${round}/${options.repeat}`;
        progress(`${backend} ${impl.spec.id} ${name}`);
        const destination = `sbbench-${token}-${impl.spec.id}-${round}`;
        try {
          const runParams = warmup ? { ...params, messages: warmupMessages, minDurationMs: 0, heapEvery: 0 } : params;
          const execArgv = options.cpuProfileDir
            ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir, '--cpu-prof-name', `${backend}-${impl.spec.id}-${round}.cpuprofile`]
            : [];
          const onProgress = (acked: number, sent: number) => progress(`${backend} ${impl.spec.id} ${name}: ${acked.toLocaleString('en-US')} acked of ${sent.toLocaleString('en-US')} sent`);
          const m = isolate
            ? await runIsolated({ impl: impl.spec.id, url, destination, params: runParams, warmupMessages, driverModules: isolate.driverModules, execArgv }, onProgress)
            : await runOnce(impl.factory, url, destination, runParams, { onProgress });
          if (!warmup) impl.runs.push(m);
        } catch (err) {
          errors.push(`${impl.spec.id} ${name}: ${errorText(err)}`);
        }
      }
    }
    const implResults: ImplResult[] = impls.map(({ spec, runs }) => ({
      id: spec.id,
      kind: spec.kind,
      client: spec.client,
      guarantee: spec.guarantee,
      equalGuarantee: spec.equalGuarantee,
      summary: summarize(runs),
      runs,
    }));
    const raw = implResults.find((i) => i.id === 'raw');
    const switchboard = implResults.find((i) => i.id === 'switchboard');
    results.push({
      url: shown,
      backend,
      impls: implResults,
      raw,
      switchboard,
      ratios: ratios(switchboard?.summary, raw?.summary),
      ratioRows: ratioRows(implResults),
      errors,
    });
  }

  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    params: { ...params, repeat: options.repeat, warmupMessages, isolation: isolate ? 'process' : 'in-process' },
    load: { start: loadStart, end: loadNow() },
    machine: {
      cpus: os.availableParallelism?.() ?? cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      node: process.version,
    },
    versions: {
      kafkajs: versionOf('kafkajs', '2.2.4'),
      amqplib: versionOf('amqplib', '2.3.1'),
      '@aws-sdk/client-sqs': versionOf('@aws-sdk/client-sqs', '3.1175.0'),
      '@nats-io/jetstream': versionOf('@nats-io/jetstream', '3.4.0'),
      '@nats-io/transport-node': versionOf('@nats-io/transport-node', '3.4.0'),
    },
    results,
    ok: results.every((r) => r.errors.length === 0),
  };
}
