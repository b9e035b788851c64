import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { redactUrl } from '@switchboard/core';
import { backendName, errorText, rawBaselineFor } from './bench';
import { runInChild, WORKER, type ChildResult } from './child-run';
import { perConsumer, rawIdleFor, runIdle, switchboardIdle, type IdleMeasurement, type IdleParams, type IdlePerConsumer } from './idle-consumers';
import { formatKiB, formatMs } from './stats';
import type { ConnectFn } from './switchboard-target';

/** An idle-consumers measurement handed to a child process. */
export interface IdleJob {
  readonly kind: 'idle';
  readonly impl: 'raw' | 'switchboard';
  readonly url: string;
  readonly prefix: string;
  readonly params: IdleParams;
  readonly driverModules: readonly string[];
}

/** What the child process of an {@link IdleJob} sends back. */
export type IdleJobResult = ChildResult<IdleMeasurement>;

/** One implementation's idle-consumers measurement on one URL. */
export interface IdleImplResult {
  readonly impl: 'raw' | 'switchboard';
  /** "switchboard", or the raw client and how it was used. */
  readonly client: string;
  readonly measurement: IdleMeasurement | undefined;
  readonly perConsumer: IdlePerConsumer | undefined;
  readonly error: string | undefined;
}

/** The idle-consumers report: per URL, the raw client (where there is one) and Switchboard. */
export interface IdleReport {
  readonly date: string;
  readonly params: IdleParams & { readonly isolation: 'process' | 'in-process' };
  readonly load: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly machine: { readonly cpus: number; readonly node: string };
  readonly results: { readonly url: string; readonly backend: string; readonly impls: IdleImplResult[] }[];
  readonly ok: boolean;
}

/** Options of {@link runIdleBench}. */
export interface IdleBenchOptions {
  urls: readonly string[];
  params: IdleParams;
  /** Run each measurement in a fresh child process (as `runBench`); default in-process. */
  isolate?: { driverModules: readonly string[] };
  /** Only the Switchboard side (no raw client). */
  switchboardOnly?: boolean;
  connect?: ConnectFn;
  onProgress?: (line: string) => void;
}

const RAW_IDLE_CLIENT: Record<string, string> = {
  kafka: 'one consumer group subscribed to all K topics',
  rabbitmq: 'a channel per consumer',
  'nats-jetstream': 'a stream and pull consumer per queue, consume()',
  sqs: 'a long-poll receive loop per queue',
};

function runIdleIsolated(job: IdleJob): Promise<IdleMeasurement> {
  return runInChild<IdleMeasurement>(job, [], 4 * job.params.deadlineMs + job.params.idleMs + 180_000, 'idle process');
}

/**
 * `switchboard bench --consumers K`: per URL, K idle consumers on one connection, each on its own
 * queue, first with the raw client (where the bench has one), then through Switchboard, each in a
 * fresh process when isolated. See {@link runIdle} for what is measured.
 */
export async function runIdleBench(options: IdleBenchOptions): Promise<IdleReport> {
  const isolate = options.isolate && fs.existsSync(WORKER) ? options.isolate : undefined;
  const start = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const token = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const progress = options.onProgress ?? (() => undefined);
  const results: IdleReport['results'][number][] = [];
  for (const url of options.urls) {
    const backend = backendName(url);
    const impls: IdleImplResult[] = [];
    const raw = options.switchboardOnly ? undefined : rawIdleFor(backend);
    const order: ('raw' | 'switchboard')[] = raw ? ['raw', 'switchboard'] : ['switchboard'];
    for (const impl of order) {
      progress(`${backend} ${impl} ${options.params.consumers} idle consumers`);
      const prefix = `sbidle-${token}-${impl === 'raw' ? 'r' : 's'}`;
      const client = impl === 'raw' ? `${rawBaselineFor(url)?.client ?? 'raw'}, ${RAW_IDLE_CLIENT[backend] ?? ''}` : 'switchboard';
      try {
        const m = isolate
          ? await runIdleIsolated({ kind: 'idle', impl, url, prefix, params: options.params, driverModules: isolate.driverModules })
          : await runIdle(impl === 'raw' ? raw! : switchboardIdle(options.connect), url, prefix, options.params);
        impls.push({ impl, client, measurement: m, perConsumer: perConsumer(m), error: undefined });
      } catch (err) {
        impls.push({ impl, client, measurement: undefined, perConsumer: undefined, error: errorText(err) });
      }
    }
    results.push({ url: redactUrl(url), backend, impls });
  }
  return {
    date: new Date().toISOString(),
    params: { ...options.params, isolation: isolate ? 'process' : 'in-process' },
    load: { start, end: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    machine: { cpus: os.availableParallelism?.() ?? os.cpus().length, node: process.version },
    results,
    ok: results.every((r) => r.impls.every((i) => !i.error)),
  };
}

/** Column headers of the idle-consumers table. */
export const IDLE_COLUMNS = [
  'backend',
  'client',
  'heap KiB/consumer',
  'RSS KiB/consumer',
  'RSS after idle KiB/consumer',
  'sockets/consumer',
  'idle CPU ms/consumer/30 s',
  'create ms/consumer (1st half, 2nd half)',
  'probe send p50/max ms',
  'probes received ms',
  'close ms',
] as const;

/** The rows of the idle-consumers table. */
export function idleTableRows(report: IdleReport): string[][] {
  return report.results.flatMap((r) =>
    r.impls.map((i) => {
      const p = i.perConsumer;
      const m = i.measurement;
      if (!p || !m) return [r.backend, i.client, `failed: ${i.error ?? ''}`, '', '', '', '', '', '', '', ''];
      const half = Math.ceil(m.consumers / 2);
      return [
        r.backend,
        i.client,
        formatKiB(p.heapBytes),
        formatKiB(p.rssBytes),
        formatKiB(p.rssAfterIdleBytes),
        Number.isFinite(p.sockets) ? p.sockets.toFixed(2) : 'n/a',
        p.idleCpuMsPer30s.toFixed(2),
        `${formatMs(p.createMs)} (${formatMs(m.createFirstHalfMs / half)}, ${formatMs(m.createSecondHalfMs / Math.max(1, m.consumers - half))})`,
        `${formatMs(m.probeSendP50Ms)} / ${formatMs(m.probeSendMaxMs)}`,
        formatMs(m.probeReceivedMs),
        formatMs(m.closeMs),
      ];
    }),
  );
}

function describeIdle(report: IdleReport): string {
  const p = report.params;
  return (
    `K=${p.consumers} idle consumers on one connection, each on its own queue (prefetch ${p.prefetch}); per extra consumer after a forced GC, ` +
    `idle CPU over ${Math.round(p.idleMs / 1000)} s above the idle connection's own; then ${p.probes} confirmed probe sends to distinct queues; ` +
    `${p.isolation === 'process' ? 'each measurement in a fresh child process' : 'in this process'}; ` +
    `load average ${report.load.start.join(' ')} at the start, ${report.load.end.join(' ')} at the end`
  );
}

/** The idle-consumers report as text for a terminal. */
export function renderIdleText(report: IdleReport): string {
  const rows = [[...IDLE_COLUMNS], ...idleTableRows(report)];
  const widths = IDLE_COLUMNS.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [`switchboard bench --consumers: ${describeIdle(report)}`, '', ...rows.map(line)].join('\n');
}

/** The idle-consumers report as Markdown for docs. */
export function renderIdleMarkdown(report: IdleReport): string {
  const out = [
    `Measured ${report.date} on ${report.machine.cpus} cores, Node ${report.machine.node}. ${describeIdle(report)}.`,
    '',
    `| ${IDLE_COLUMNS.join(' | ')} |`,
    `| ${IDLE_COLUMNS.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
    ...idleTableRows(report).map((row) => `| ${row.join(' | ')} |`),
  ];
  return `${out.join('\n')}\n`;
}
