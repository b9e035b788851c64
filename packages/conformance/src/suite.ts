import { randomBytes } from 'node:crypto';
import {
  connect as coreConnect,
  type Capabilities,
  type Connection,
  type ConnectOptions,
  type Consumer,
  type ConsumerOptions,
  type Destination,
  type Producer,
} from '@switchboard/core';
import type { CaseContext, CaseResult, ConformanceCase, SuiteOptions, SupportLevel } from './case';
import { badInputCases } from './cases/bad-input';
import { contractCases } from './cases/contract';
import { faultCases } from './cases/faults';
import { interopCases } from './cases/interop';
import { loadCases } from './cases/load';
import { patternCases } from './cases/patterns';
import { redeliveryCases } from './cases/redelivery';
import { semanticsCases } from './cases/semantics';
import { makeReport, type ConformanceReport } from './report';

/** Every case of the catalogue, in catalogue order. */
export const CASES: readonly ConformanceCase[] = [
  ...patternCases,
  ...semanticsCases,
  ...redeliveryCases,
  ...faultCases,
  ...badInputCases,
  ...loadCases,
  ...contractCases,
  ...interopCases,
];

export const CASE_IDS: readonly string[] = CASES.map((c) => c.id);

/** Why a case cannot run here, or undefined when it must pass. */
export function gate(c: ConformanceCase, url: string, options: SuiteOptions, caps: Capabilities): { support: SupportLevel; reason?: string } {
  let support: SupportLevel = 'native';
  for (const name of c.requires) {
    const s = caps[name];
    if (s.level === 'none') return { support: 'none', reason: `${name}: ${s.reason}` };
    if (s.level === 'emulated') support = 'emulated';
  }
  const reason = c.applicable?.(url, options, caps);
  return reason ? { support: 'none', reason } : { support };
}

export interface RunHooks {
  /** Called before each case starts and after it ends. */
  onCaseStart?: (c: ConformanceCase, index: number, total: number) => void;
  onCaseEnd?: (result: CaseResult, index: number, total: number) => void;
}

/** A prepared suite: cases selected, ready to run against one URL. */
export interface ConformanceSuite {
  readonly name: string | undefined;
  readonly options: SuiteOptions;
  readonly cases: readonly ConformanceCase[];
  /** Runs one case on an open connection. Never throws: failures are results. */
  runCase(c: ConformanceCase, connection: Connection): Promise<CaseResult>;
  /** Connects, runs every selected case, closes, and returns the report. */
  run(hooks?: RunHooks): Promise<ConformanceReport>;
}

function pickCases(only: readonly string[] | undefined): ConformanceCase[] {
  if (!only?.length) return [...CASES];
  const wanted = new Set(only.map((s) => s.trim().toUpperCase()).filter(Boolean));
  const unknown = [...wanted].filter((id) => !CASE_IDS.includes(id));
  if (unknown.length) throw new Error(`unknown case ids: ${unknown.join(', ')} (known: ${CASE_IDS.join(', ')})`);
  return CASES.filter((c) => wanted.has(c.id));
}

/**
 * Defines the conformance suite for one backend, Watermill-style: adapters, the memory backend, the
 * CLI and jest files all run the same cases through this.
 */
export function defineConformanceSuite(options: SuiteOptions): ConformanceSuite {
  const cases = pickCases(options.only);
  const scale = options.timeScale ?? 1;

  const runCase = async (c: ConformanceCase, connection: Connection): Promise<CaseResult> => {
    const started = Date.now();
    const { support, reason } = gate(c, options.url, options, connection.capabilities);
    if (support === 'none') return { id: c.id, title: c.title, status: 'unsupported', support, reason: reason!, durationMs: 0 };
    const cleanups: (() => Promise<unknown> | unknown)[] = [];
    const notes: string[] = [];
    const ac = new AbortController();
    const timeoutMs = (c.timeoutMs ?? 60_000) * scale;
    const tag = c.id.toLowerCase();
    const suffix = randomBytes(4).toString('hex');
    let counter = 0;
    const name = (label = 'x') => `sb-${tag}-${label}-${suffix}-${counter++}`;
    /** Destinations the case made: deleted after it, with their default dead-letter queues, so brokers do not fill up. */
    const destinations: Destination[] = [];
    const made = (d: Destination): Destination => {
      destinations.push(d, { kind: 'queue', name: `${d.name}-dlq` });
      return d;
    };
    const track = <T extends { close(): Promise<void> }>(x: T): T => {
      cleanups.push(() => x.close());
      return x;
    };
    const ctx: CaseContext = {
      url: options.url,
      options,
      connection,
      capabilities: connection.capabilities,
      signal: ac.signal,
      t: (ms) => Math.round(ms * scale),
      name,
      queue: (label = 'q'): Destination => made({ kind: 'queue', name: name(label) }),
      topic: (label = 't'): Destination => made({ kind: 'topic', name: name(label) }),
      producer: (): Producer => track(connection.producer()),
      consumer: async (source: Destination, o?: ConsumerOptions): Promise<Consumer> => track(await connection.consumer(source, o)),
      connect: async (url?: string, o?: ConnectOptions) => track(await coreConnect(url ?? options.url, { ...options.connectOptions, ...o })),
      defer: (fn) => void cleanups.push(fn),
      note: (text) => void notes.push(text),
    };
    let timer: NodeJS.Timeout | undefined;
    let failure: unknown;
    try {
      await Promise.race([
        c.run(ctx),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new Error(`timed out after ${timeoutMs} ms`);
            ac.abort(err);
            reject(err);
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      failure = err;
      if (!ac.signal.aborted) ac.abort(err);
    } finally {
      clearTimeout(timer);
      if (!ac.signal.aborted) ac.abort(new Error('case finished'));
      for (const fn of cleanups.reverse()) {
        await Promise.race([Promise.resolve().then(fn).catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
      }
      // Best effort, bounded: a name a backend refused (B7, B2) or a destination never made is fine.
      const removing = Promise.allSettled(destinations.map((d) => connection.admin.deleteDestination(d)));
      await Promise.race([removing, new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
    const result: CaseResult = {
      id: c.id,
      title: c.title,
      status: failure === undefined ? 'passed' : 'failed',
      support,
      durationMs: Date.now() - started,
    };
    if (failure !== undefined) result.reason = describe(failure);
    if (notes.length) result.detail = notes.join('; ');
    return result;
  };

  return {
    name: options.name,
    options,
    cases,
    runCase,
    async run(hooks = {}) {
      const startedAt = new Date();
      const connection = await coreConnect(options.url, options.connectOptions);
      const results: CaseResult[] = new Array(cases.length);
      try {
        let next = 0;
        const lane = async () => {
          while (next < cases.length) {
            const i = next++;
            const c = cases[i]!;
            hooks.onCaseStart?.(c, i, cases.length);
            results[i] = await runCase(c, connection);
            hooks.onCaseEnd?.(results[i]!, i, cases.length);
          }
        };
        await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 1) }, lane));
      } finally {
        await connection.close().catch(() => undefined);
      }
      return makeReport({ backend: options.name ?? connection.backend, url: connection.url, startedAt, capabilities: connection.capabilities }, results);
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${code && typeof code === 'string' ? `[${code}] ` : ''}${err.message}`.split('\n').slice(0, 6).join(' | ');
  }
  return String(err);
}
