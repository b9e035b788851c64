import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { backendLabel, parseUrl, redactUrl } from '@switchboard/core';
import { rawKafka } from './raw/kafka';
import { rawNats } from './raw/nats';
import { rawRabbitMQ } from './raw/rabbitmq';
import { rawSqs } from './raw/sqs';
import { median, ratio } from './stats';
import { switchboardTarget, type ConnectFn } from './switchboard-target';
import { runOnce, WORKLOAD_DEFAULTS, type BenchParams, type RunMeasurement, type TargetFactory } from './workload';

/** The raw-client baseline for a URL: which client and how to run it. */
export interface RawBaseline {
  /** e.g. "kafkajs 2.2.4". */
  readonly client: string;
  readonly factory: TargetFactory;
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
    default:
      return undefined;
  }
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
  readonly duplicates: number;
}

/** One implementation's repetitions on one URL. */
export interface ImplResult {
  /** "switchboard", or the raw client with its version. */
  readonly client: string;
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
}

export interface BackendResult {
  /** The URL, password removed. */
  readonly url: string;
  readonly backend: string;
  /** Absent where there is no raw client (memory://). */
  readonly raw: ImplResult | undefined;
  readonly switchboard: ImplResult;
  readonly ratios: Ratios;
  /** One line per failed run ("raw run 2: ..."); the report is still produced. */
  readonly errors: string[];
}

/** A run handed to a child process. */
export interface IsolatedJob {
  readonly impl: 'raw' | 'switchboard';
  readonly url: string;
  readonly destination: string;
  readonly params: BenchParams;
  /** Messages of an unrecorded run on `<destination>-w` in the same process first (0: none). */
  readonly warmupMessages: number;
  readonly driverModules: readonly string[];
}

/** What the child process sends back. */
export type IsolatedResult = { ok: true; measurement: RunMeasurement } | { ok: false; error: string };

const WORKER = path.join(__dirname, 'run-worker.js');

/** Runs one job in a child process; the child is killed if it outlives its warm-up and run deadlines by 60 s. */
function runIsolated(job: IsolatedJob): Promise<RunMeasurement> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 2 * job.params.deadlineMs + 60_000);
    child.once('message', (r: IsolatedResult) => {
      settled = true;
      if (r.ok) resolve(r.measurement);
      else reject(new Error(r.error));
    });
    child.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      if (!settled) reject(new Error(`run process exited (${signal ?? code}) without a result${stderr ? `: ${stderr.trim()}` : ''}`));
      settled = true;
    });
    child.send(job);
  });
}

export interface BenchReport {
  readonly date: string;
  readonly params: BenchParams & { readonly repeat: number; readonly warmupMessages: number; readonly isolation: 'process' | 'in-process' };
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

/** Medians of each metric over the runs (each metric on its own), or undefined for no runs. */
export function summarize(runs: readonly RunMeasurement[]): ImplSummary | undefined {
  if (runs.length === 0) return undefined;
  const m = (f: (r: RunMeasurement) => number) => median(runs.map(f))!;
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
    duplicates: m((r) => r.duplicates),
  };
}

/** Switchboard / raw for throughput and memory. */
export function ratios(sb: ImplSummary | undefined, raw: ImplSummary | undefined): Ratios {
  return {
    publishRate: ratio(sb?.publishRate, raw?.publishRate),
    endToEndRate: ratio(sb?.endToEndRate, raw?.endToEndRate),
    heapDelta: ratio(sb?.heapDelta, raw?.heapDelta),
    rssPeak: ratio(sb?.rssPeak, raw?.rssPeak),
  };
}

/** An error as one line, with its Switchboard code when the message lacks it. */
export function errorText(err: unknown): string {
  const e = err as { message?: string; code?: string };
  const text = e?.message ?? String(err);
  return e?.code && !text.includes(e.code) ? `${e.code}: ${text}` : text;
}

/**
 * Runs the benchmark on each URL in turn. Per URL: one unrecorded warm-up run of each
 * implementation (with `isolate`: inside each run's process, before the measured part), then `repeat` rounds of raw, Switchboard (alternating, so drift hits both),
 * each on a fresh destination with fresh connections and its own deadline (and, with `isolate`,
 * in its own child process). A failed run is
 * recorded in `errors` and the rest go on; `ok` is false if anything failed.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const params: BenchParams = {
    messages: options.messages,
    size: options.size,
    batch: options.batch ?? WORKLOAD_DEFAULTS.batch,
    inflight: options.inflight ?? WORKLOAD_DEFAULTS.inflight,
    prefetch: options.prefetch ?? WORKLOAD_DEFAULTS.prefetch,
    deadlineMs: options.deadlineMs ?? WORKLOAD_DEFAULTS.deadlineMs,
  };
  const warmupMessages = options.warmupMessages ?? Math.min(options.messages, 2000);
  const token = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const sbFactory = switchboardTarget(options.connect);
  const progress = options.onProgress ?? (() => undefined);
  const results: BackendResult[] = [];
  const isolate = options.isolate && fs.existsSync(WORKER) ? options.isolate : undefined;

  for (const url of options.urls) {
    const backend = backendName(url);
    const shown = redactUrl(url);
    const baseline = rawBaselineFor(url);
    const errors: string[] = [];
    const rawRuns: RunMeasurement[] = [];
    const sbRuns: RunMeasurement[] = [];
    const impls: { label: 'raw' | 'switchboard'; factory: TargetFactory; runs: RunMeasurement[] }[] = [];
    if (baseline) impls.push({ label: 'raw', factory: baseline.factory, runs: rawRuns });
    impls.push({ label: 'switchboard', factory: sbFactory, runs: sbRuns });

    const rounds: { round: number; warmup: boolean }[] = [];
    // Isolated runs warm up inside their own process (JIT and connections), so there is no warm-up round.
    if (warmupMessages > 0 && !isolate) rounds.push({ round: 0, warmup: true });
    for (let r = 1; r <= options.repeat; r++) rounds.push({ round: r, warmup: false });
    for (const { round, warmup } of rounds) {
      for (const impl of impls) {
        const name = warmup ? 'warm-up' : `run ${round}/${options.repeat}`;
        progress(`${backend} ${impl.label} ${name}`);
        const destination = `sbbench-${token}-${impl.label === 'raw' ? 'raw' : 'sb'}-${round}`;
        try {
          const runParams = warmup ? { ...params, messages: warmupMessages } : params;
          const m = isolate
            ? await runIsolated({ impl: impl.label, url, destination, params: runParams, warmupMessages, driverModules: isolate.driverModules })
            : await runOnce(impl.factory, url, destination, runParams);
          if (!warmup) impl.runs.push(m);
        } catch (err) {
          errors.push(`${impl.label} ${name}: ${errorText(err)}`);
        }
      }
    }
    const raw = baseline ? { client: baseline.client, summary: summarize(rawRuns), runs: rawRuns } : undefined;
    const switchboard = { client: 'switchboard', summary: summarize(sbRuns), runs: sbRuns };
    results.push({ url: shown, backend, raw, switchboard, ratios: ratios(switchboard.summary, raw?.summary), errors });
  }

  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    params: { ...params, repeat: options.repeat, warmupMessages, isolation: isolate ? 'process' : 'in-process' },
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
