import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  backendLabel,
  connect as coreConnect,
  formatDestination,
  parseUrl,
  queue,
  redactUrl,
  SwitchboardError,
  type ConnectOptions,
  type Connection,
  type ConsumeHandle,
  type Consumer,
  type Delivery,
  type Destination,
  type ErrorEvent,
  type Producer,
} from '@switchboard/core';
import { SoakLedger, type SendErrorCount, type SoakCounts } from './ledger';
import { formatDuration } from './parse';
import { restartResults, spread, type RestartResult, type RestartTiming, type Spread } from './restarts';

/** How the soak connects: `connect` of `@switchboard/core` unless a test or host passes its own. */
export type ConnectFn = (url: string, options?: ConnectOptions) => Promise<Connection>;

/** Defaults of {@link runSoak}. */
export const SOAK_DEFAULTS = {
  consumers: 2,
  concurrency: 8,
  prefetch: 32,
  size: 256,
  drainMs: 60_000,
  sendTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
  progressEveryMs: 5_000,
  restartTimeoutMs: 240_000,
} as const;

/** How long at most the send phase goes on past the duration for the last restart to resume. */
export const MAX_EXTENSION_MS = 60_000;

/** The smallest message: the id prefix `soak:<token>:<seq>:` always fits. */
export const MIN_SOAK_MESSAGE_SIZE = 48;

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Any URL `connect()` understands. */
  url: string;
  /**
   * Length of the send phase (ms). It goes on past it while a restart is due or running, and until a
   * message sent after the last restart returned has arrived (at most {@link MAX_EXTENSION_MS} more),
   * so every restart's resumption is measured. The drain comes after it.
   */
  durationMs: number;
  /** Messages per second, paced evenly; after a stall (a full window) at most 1 s of sends is made up. */
  rate: number;
  /** Competing members of one group on the queue, each on its own connection (default 2). */
  consumers?: number;
  /** `consume({ concurrency })` of each member (default 8). */
  concurrency?: number;
  /** `prefetch` of each member (default 32). */
  prefetch?: number;
  /** Sends in flight at most (default max(16, rate / 5)); ids are not issued while the window is full. */
  maxInFlight?: number;
  /** Body size in bytes (default 256, at least {@link MIN_SOAK_MESSAGE_SIZE}). */
  size?: number;
  /**
   * Restarts the broker: a shell command run with `bash -c` (it must return once the broker serves
   * again, as `scripts/brokers restart NAME` does), or a function resolving then. Never interrupted.
   */
  restartCommand?: string | (() => Promise<void>);
  /** How the report names the restart when `restartCommand` is a function (default "(function)"). */
  restartLabel?: string;
  /**
   * A restart is launched at 1x, 2x, ... this many ms while that is < durationMs; one that is due while
   * the previous still runs is launched when it returns (commands never overlap).
   */
  restartEveryMs?: number;
  /** Queue name (default: a fresh `soak-<token>` per run). Deleted at the end. */
  destination?: string;
  /** After the send phase, how long to wait at most for pending sends and every confirmed id (default 60 s). */
  drainMs?: number;
  /** The soak's own limit on one send call; a call past it counts as `soak_send_timeout` and is retried (default 30 s). */
  sendTimeoutMs?: number;
  /** Deadline of each close at the end (default 10 s), passed as `close({ timeoutMs })` and also enforced by the soak. */
  closeTimeoutMs?: number;
  /** A progress line every this many ms (default 5 s). */
  progressEveryMs?: number;
  onProgress?: (line: string) => void;
  /** Ends the send phase and the drain at once; the run then closes and resolves with `aborted: true`. */
  signal?: AbortSignal;
  connect?: ConnectFn;
}

/** A consumer whose `consume()` loop ended with an error (or ended by itself) while the run went on. */
export interface ConsumerFailure {
  /** 1-based member number. */
  readonly consumer: number;
  /** When it ended (ms since the send phase started). */
  readonly atMs: number;
  /** The error's `SwitchboardError.code`, `untyped`, or `ended` for a loop that ended without an error. */
  readonly code: string;
  readonly message: string;
  /** Whether a reopened consumer took over (the soak reopens it; the library did not recover it). */
  readonly recovered: boolean;
  /** When the reopened consumer was ready. */
  readonly recoveredAtMs: number | undefined;
}

/** Errors the library reported through `connect(url, { onError })`, by origin and code. */
export interface LibraryErrorCount {
  /** `ErrorEvent.origin`: `consumer`, `reconnect`, `background`, `handler`, `reply`, `schema`. */
  readonly origin: string;
  /** The error's `SwitchboardError.code`, or `untyped`. */
  readonly code: string;
  readonly count: number;
  /** The message of the first one. */
  readonly example: string;
}

/** The outcome of one soak. Times are ms; `*AtMs` are since the send phase started (after setup). */
export interface SoakResult {
  /** The URL, password removed. */
  readonly url: string;
  readonly backend: string;
  readonly destination: string;
  /** ISO time of the start. */
  readonly startedAt: string;
  readonly params: {
    readonly durationMs: number;
    readonly rate: number;
    readonly consumers: number;
    readonly concurrency: number;
    readonly prefetch: number;
    readonly maxInFlight: number;
    readonly size: number;
    readonly restartCommand: string | undefined;
    readonly restartEveryMs: number | undefined;
    readonly drainMs: number;
  };
  /** How long the send phase ran (more than the duration when it was extended for the last restart). */
  readonly sendPhaseMs: number;
  /** From the end of the send phase to every confirmed id received (or the drain deadline). */
  readonly drainTookMs: number;
  /** Whether every confirmed id arrived before the drain deadline. */
  readonly drained: boolean;
  readonly elapsedMs: number;
  /** Confirmed ids per second of the send phase. */
  readonly confirmedRate: number;
  readonly counts: SoakCounts;
  readonly sendErrors: SendErrorCount[];
  /** Up to 20 sequence numbers of lost ids. */
  readonly lostIds: number[];
  readonly restarts: RestartResult[];
  /** Max and median time to resume over the restarts that resumed. */
  readonly resume: Spread;
  /** Max and median receive gap over the restarts. */
  readonly gap: Spread;
  readonly consumerFailures: ConsumerFailure[];
  /** What the library reported on its own (`onError` of every connection of the run), most frequent first. */
  readonly libraryErrors: LibraryErrorCount[];
  /** Findings that do not fail the run (e.g. untyped send errors, a close that missed its deadline). */
  readonly notes: string[];
  readonly aborted: boolean;
  /** No loss, every consumer alive or recovered, every restart ran and resumed, something confirmed, not aborted. */
  readonly passed: boolean;
  /** Why `passed` is false, one line each. */
  readonly failures: string[];
}

/**
 * Runs a shell command with `bash -c` and resolves when it exits 0; rejects with its exit code (or
 * signal) and error output. `timeoutMs` kills it after that long; 0 sets no time limit.
 */
export function runShell(command: string, timeoutMs: number = SOAK_DEFAULTS.restartTimeoutMs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`"${command}" exited with ${signal ?? code}${err.trim() ? `: ${err.trim()}` : ''}`)),
    );
  });
}

/** The body of message `seq`: `soak:<token>:<seq>:` padded with dots to `size` bytes. */
export function soakBody(token: string, seq: number, size: number): string {
  const head = `soak:${token}:${seq}:`;
  return head.length >= size ? head : head + '.'.repeat(size - head.length);
}

/** The sequence number in a body made by {@link soakBody} with `token`; undefined for any other body. */
export function soakSeq(token: string, body: string): number | undefined {
  const prefix = `soak:${token}:`;
  if (!body.startsWith(prefix)) return undefined;
  const end = body.indexOf(':', prefix.length);
  const seq = Number(body.slice(prefix.length, end < 0 ? undefined : end));
  return Number.isInteger(seq) && seq >= 0 ? seq : undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Resolves when `p` settles or after `ms`, whichever comes first; never rejects, leaves no timer behind. */
function within(p: Promise<unknown> | undefined, ms: number): Promise<'ok' | 'late' | { err: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  return Promise.race([(p ?? Promise.resolve()).then(() => 'ok' as const, (err: unknown) => ({ err })), late]).finally(() => clearTimeout(timer));
}

function codeOf(err: unknown): { code: string; retryable: boolean; message: string } {
  if (err instanceof SwitchboardError) return { code: err.code, retryable: err.retryable, message: err.message };
  return { code: 'untyped', retryable: false, message: err instanceof Error ? err.message : String(err) };
}

/**
 * Runs a bounded soak over the public API only, so it runs unchanged on every backend:
 *
 * 1. Setup: one connection for the producer, `admin.ensureDestination(queue)` on a fresh queue, and
 *    `consumers` members of group `soak`, each on its own connection, each `consume()`-ing with
 *    `concurrency` (the handler records the delivery and resolves, which acks it).
 * 2. Send phase (`durationMs`): ids 0, 1, 2, ... issued at `rate`, at most `maxInFlight` sends at once.
 *    A send failing with a retryable error is retried (backoff 100 ms doubling to 2 s) with the same
 *    id, and the id counts as confirmed once, when a send of it resolves; a non-retryable error gives
 *    the id up. Every failed call is counted by code. Restarts run beside it every `restartEveryMs`.
 * 3. Drain: waits for the running restart, then up to `drainMs` for pending sends and for every
 *    confirmed id to arrive; then closes everything (each close bounded by `closeTimeoutMs`) and
 *    deletes the queue.
 *
 * The send phase goes on past `durationMs` while a restart is due or running and until a message sent
 * after the last restart returned has arrived (at most {@link MAX_EXTENSION_MS} more).
 *
 * Reconnecting is the library's job: the soak never reconnects by hand. A member whose consume loop
 * ends while the run goes on is recorded in `consumerFailures` and reopened (a finding, reported).
 * What the library reports through `onError` (reconnects, background failures) is counted in `libraryErrors`.
 * Resolves with the {@link SoakResult}; rejects only when setup fails (connect, ensure, first consumers).
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const params = {
    durationMs: options.durationMs,
    rate: options.rate,
    consumers: options.consumers ?? SOAK_DEFAULTS.consumers,
    concurrency: options.concurrency ?? SOAK_DEFAULTS.concurrency,
    prefetch: options.prefetch ?? SOAK_DEFAULTS.prefetch,
    maxInFlight: options.maxInFlight ?? Math.max(16, Math.ceil(options.rate / 5)),
    size: Math.max(options.size ?? SOAK_DEFAULTS.size, MIN_SOAK_MESSAGE_SIZE),
    restartCommand: typeof options.restartCommand === 'string' ? options.restartCommand : options.restartCommand ? (options.restartLabel ?? '(function)') : undefined,
    restartEveryMs: options.restartCommand ? options.restartEveryMs : undefined,
    drainMs: options.drainMs ?? SOAK_DEFAULTS.drainMs,
  };
  for (const [name, v] of Object.entries({ durationMs: params.durationMs, rate: params.rate, consumers: params.consumers, concurrency: params.concurrency, prefetch: params.prefetch, maxInFlight: params.maxInFlight, drainMs: params.drainMs })) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new SwitchboardError('invalid_argument', `soak ${name} must be a positive number (got ${String(v)})`);
  }
  if (options.restartCommand && !(typeof options.restartEveryMs === 'number' && options.restartEveryMs > 0)) {
    throw new SwitchboardError('invalid_argument', 'soak restartEveryMs must be a positive number when a restart command is given');
  }
  const sendTimeoutMs = options.sendTimeoutMs ?? SOAK_DEFAULTS.sendTimeoutMs;
  const closeTimeoutMs = options.closeTimeoutMs ?? SOAK_DEFAULTS.closeTimeoutMs;
  const progressEveryMs = options.progressEveryMs ?? SOAK_DEFAULTS.progressEveryMs;
  const connect = options.connect ?? coreConnect;
  const progress = options.onProgress ?? (() => undefined);
  const token = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const destination = options.destination ?? `soak-${token}`;
  const dest: Destination = queue(destination);
  const startedAt = new Date();
  let t0 = performance.now();
  const now = () => performance.now() - t0;
  const ledger = new SoakLedger();
  const notes: string[] = [];
  const consumerFailures: ConsumerFailure[] = [];
  const timings: RestartTiming[] = [];
  const runSignal = options.signal;

  // Setup. A failure here rejects, after closing what was opened.
  const opened: Connection[] = [];
  const libraryErrors = new Map<string, { origin: string; code: string; count: number; example: string }>();
  const onError = (e: ErrorEvent) => {
    const { code, message } = codeOf(e.error);
    const key = `${e.origin}/${code}`;
    const seen = libraryErrors.get(key);
    if (seen) seen.count++;
    else libraryErrors.set(key, { origin: e.origin, code, count: 1, example: message.slice(0, 300) });
  };
  const open = async () => {
    const c = await connect(options.url, { onError });
    opened.push(c);
    return c;
  };
  let producerConn: Connection;
  let producer: Producer;
  interface Member {
    readonly n: number;
    conn: Connection;
    consumer: Consumer | undefined;
    handle: ConsumeHandle | undefined;
  }
  const members: Member[] = [];
  let closing = false;
  const handler = (d: Delivery) => void ledger.receive(soakSeq(token, d.text()), now());
  const startMember = async (m: Member) => {
    const consumer = await m.conn.consumer(dest, { group: 'soak', prefetch: params.prefetch });
    m.consumer = consumer;
    const handle = consumer.consume(handler, { concurrency: params.concurrency });
    m.handle = handle;
    handle.done.then(
      () => onEnded(m, handle, undefined),
      (err: unknown) => onEnded(m, handle, err ?? new Error('consume loop rejected')),
    );
  };
  const reopening = new Set<Promise<void>>();
  const onEnded = (m: Member, handle: ConsumeHandle, err: unknown) => {
    if (closing || m.handle !== handle) return;
    const at = now();
    const { code, message } = err === undefined ? { code: 'ended', message: 'the consume loop ended without an error while the run went on' } : codeOf(err);
    const failure = { consumer: m.n, atMs: at, code, message, recovered: false, recoveredAtMs: undefined as number | undefined };
    consumerFailures.push(failure);
    progress(`consumer ${m.n} ended at ${formatDuration(at)}: ${code}: ${message}; reopening it`);
    const p = (async () => {
      await within(m.consumer?.close({ timeoutMs: closeTimeoutMs }), closeTimeoutMs);
      m.consumer = undefined;
      m.handle = undefined;
      while (!closing) {
        try {
          await startMember(m);
          Object.assign(failure, { recovered: true, recoveredAtMs: now() });
          progress(`consumer ${m.n} reopened at ${formatDuration(now())}`);
          return;
        } catch (e) {
          if (SwitchboardError.is(e, 'closed')) {
            notes.push(`consumer ${m.n}: its connection was closed; the soak opened a new connection for it`);
            m.conn = await open().catch(() => m.conn);
          }
          await sleep(1000);
        }
      }
    })();
    reopening.add(p);
    void p.finally(() => reopening.delete(p));
  };

  try {
    producerConn = await open();
    await producerConn.admin.ensureDestination(dest);
    for (let n = 1; n <= params.consumers; n++) {
      const m: Member = { n, conn: await open(), consumer: undefined, handle: undefined };
      members.push(m);
      await startMember(m);
    }
    producer = producerConn.producer();
  } catch (err) {
    closing = true;
    await Promise.all(opened.map((c) => within(c.close({ timeoutMs: closeTimeoutMs }), closeTimeoutMs)));
    throw err;
  }
  const backend = producerConn.backend || backendLabel(parseUrl(options.url).redacted);
  t0 = performance.now(); // times are since the send phase started

  // Send phase.
  const sendPhase = new AbortController(); // fires on the run's signal only: ends issuing and the restarts
  const giveUp = new AbortController(); // ends retries and pending sends
  const onAbort = () => {
    sendPhase.abort();
    giveUp.abort();
  };
  if (runSignal?.aborted) onAbort();
  runSignal?.addEventListener('abort', onAbort, { once: true });
  let restartsDone = !options.restartCommand;
  let lastReturnedAt: number | undefined;
  let lastResumed = false;
  /** Past the duration, sends go on while a restart is due or running, and until the last one resumed (at most {@link MAX_EXTENSION_MS}). */
  const goOn = (t: number) => {
    if (!restartsDone) return true;
    if (lastReturnedAt === undefined || lastResumed || t >= lastReturnedAt + MAX_EXTENSION_MS) return false;
    lastResumed = ledger.firstReceiptOfSentSince(lastReturnedAt) !== undefined;
    return !lastResumed;
  };

  let inFlight = 0;
  let wake: (() => void) | undefined;
  const pending = new Set<Promise<void>>();
  const sendOne = async (seq: number) => {
    const message = { id: `${token}-${seq}`, body: soakBody(token, seq, params.size) };
    let backoff = 100;
    while (!giveUp.signal.aborted) {
      ledger.attempt();
      const attempt = new AbortController();
      const timer = setTimeout(() => attempt.abort(new Error('soak send timeout')), sendTimeoutMs);
      const signal = AbortSignal.any([attempt.signal, giveUp.signal]);
      try {
        await new Promise<void>((resolve, reject) => {
          const onSignal = () => reject(signal.reason);
          signal.addEventListener('abort', onSignal, { once: true });
          producer.send(dest, message, { signal }).then(
            () => {
              signal.removeEventListener('abort', onSignal);
              resolve();
            },
            (err: unknown) => {
              signal.removeEventListener('abort', onSignal);
              reject(err);
            },
          );
        });
        ledger.confirm(seq, now());
        return;
      } catch (err) {
        if (giveUp.signal.aborted) return;
        if (attempt.signal.aborted) ledger.sendError('soak_send_timeout', true, `a send call took longer than ${formatDuration(sendTimeoutMs)}`);
        else {
          const { code, retryable, message: text } = codeOf(err);
          ledger.sendError(code, retryable, text);
          if (!retryable) return;
        }
        await sleep(backoff, giveUp.signal);
        backoff = Math.min(backoff * 2, 2000);
      } finally {
        clearTimeout(timer);
      }
    }
  };

  const interval = 1000 / params.rate;
  const sender = (async () => {
    let nextDue = 0;
    while (!sendPhase.signal.aborted) {
      if (inFlight >= params.maxInFlight) {
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(100, sendPhase.signal)]);
        wake = undefined;
        continue;
      }
      const t = now();
      if (t >= params.durationMs && !goOn(t)) break;
      if (t < nextDue) {
        await sleep(nextDue - t, sendPhase.signal);
        continue;
      }
      if (t - nextDue > 1000) nextDue = t; // after a stall (a full window), go on at the rate: at most 1 s is made up
      nextDue += interval;
      const seq = ledger.issue(t);
      inFlight++;
      const p = sendOne(seq).finally(() => {
        inFlight--;
        pending.delete(p);
        wake?.();
      });
      pending.add(p);
    }
  })();

  const restarter = (async () => {
    const command = options.restartCommand;
    const every = options.restartEveryMs;
    if (!command || !every) return;
    for (let k = 1; k * every < params.durationMs; k++) {
      await sleep(k * every - now(), sendPhase.signal);
      if (sendPhase.signal.aborted) break;
      const startedAtMs = now();
      progress(`restart ${k} at ${formatDuration(startedAtMs)}`);
      let ok = true;
      let error: string | undefined;
      try {
        await (typeof command === 'string' ? runShell(command) : command());
      } catch (err) {
        ok = false;
        error = err instanceof Error ? err.message : String(err);
      }
      const returnedAtMs = now();
      timings.push({ index: k, startedAtMs, returnedAtMs, ok, ...(error === undefined ? {} : { error }) });
      lastReturnedAt = returnedAtMs;
      lastResumed = false;
      progress(`restart ${k} ${ok ? 'returned' : `FAILED (${error})`} after ${formatDuration(returnedAtMs - startedAtMs)}`);
    }
  })().finally(() => (restartsDone = true));

  const line = () => {
    const c = ledger.counts();
    const times = ledger.deliveryTimes();
    const last = times[times.length - 1];
    const gap = now() - (last ?? 0);
    return `${formatDuration(now())}: sent ${c.sent}, confirmed ${c.confirmed}, received ${c.received}, duplicates ${c.duplicates}, in flight ${inFlight}, gap ${formatDuration(gap)}`;
  };
  const ticker = setInterval(() => progress(line()), progressEveryMs);

  let sendPhaseMs = 0;
  let drainStart = 0;
  let drainTookMs = 0;
  let drained = false;
  try {
    await sender;
    sendPhaseMs = now();
    sendPhase.abort();
    await restarter; // the broker must serve again before the drain
    drainStart = now();
    const drainDeadline = drainStart + params.drainMs;
    progress(`send phase over at ${formatDuration(sendPhaseMs)}; draining (up to ${formatDuration(params.drainMs)})`);
    if (!giveUp.signal.aborted) await Promise.race([Promise.allSettled([...pending]), sleep(drainDeadline - now(), giveUp.signal)]);
    if (pending.size > 0) notes.push(`${pending.size} sends were still pending at the drain deadline and were given up`);
    giveUp.abort();
    while (!ledger.allConfirmedReceived() && now() < drainDeadline && !runSignal?.aborted) await sleep(Math.min(100, drainDeadline - now()), runSignal);
    drained = ledger.allConfirmedReceived();
    drainTookMs = now() - drainStart;
  } finally {
    clearInterval(ticker);
    runSignal?.removeEventListener('abort', onAbort);
    giveUp.abort();
    closing = true;
  }
  const endMs = now();

  // Close everything, each step bounded.
  const bounded = async (what: string, p: Promise<unknown>) => {
    const r = await within(p, closeTimeoutMs);
    if (r === 'late') notes.push(`${what} did not finish within ${formatDuration(closeTimeoutMs)}`);
    else if (r !== 'ok') notes.push(`${what} failed: ${codeOf(r.err).code}: ${codeOf(r.err).message}`);
  };
  await Promise.allSettled([...reopening]);
  await Promise.all(
    members.map(async (m) => {
      if (m.handle) await bounded(`consumer ${m.n} consume loop close`, m.handle.close({ timeoutMs: closeTimeoutMs }));
      if (m.consumer) await bounded(`consumer ${m.n} close`, m.consumer.close({ timeoutMs: closeTimeoutMs }));
    }),
  );
  await bounded('producer close', producer.close());
  await bounded('queue delete', producerConn.admin.deleteDestination(dest));
  await Promise.all(opened.map((c, i) => bounded(`connection ${i + 1} close`, c.close({ timeoutMs: closeTimeoutMs }))));

  const counts = ledger.counts();
  const restarts = restartResults(timings, ledger, endMs);
  const aborted = runSignal?.aborted ?? false;
  const failures: string[] = [];
  if (aborted) failures.push('the run was aborted');
  if (counts.lost > 0) failures.push(`${counts.lost} confirmed messages never arrived (first lost: ${ledger.lostIds(5).join(', ')})`);
  if (counts.confirmed === 0) failures.push('no send was confirmed');
  for (const f of consumerFailures) if (!f.recovered) failures.push(`consumer ${f.consumer} ended (${f.code}) and could not be reopened`);
  for (const r of restarts) {
    if (!r.ok) failures.push(`restart ${r.index} failed: ${r.error}`);
    else if (r.resumed === false) failures.push(`restart ${r.index}: no message sent after it arrived`);
  }
  for (const e of ledger.sendErrors()) if (e.code === 'untyped') notes.push(`${e.count} sends failed with an untyped error (first: ${e.example})`);
  if (counts.foreign > 0) notes.push(`${counts.foreign} deliveries carried no id of this run`);
  for (const r of restarts) if (r.resumed === undefined) notes.push(`restart ${r.index}: nothing was sent after it returned, so its resume time was not measured`);
  return {
    url: redactUrl(options.url),
    backend,
    destination: formatDestination(dest),
    startedAt: startedAt.toISOString(),
    params,
    sendPhaseMs,
    drainTookMs,
    drained,
    elapsedMs: now(),
    confirmedRate: sendPhaseMs > 0 ? counts.confirmed / (sendPhaseMs / 1000) : 0,
    counts,
    sendErrors: ledger.sendErrors(),
    lostIds: ledger.lostIds(20),
    restarts,
    resume: spread(restarts, (r) => r.resumeMs),
    gap: spread(restarts, (r) => r.gapMs),
    consumerFailures,
    libraryErrors: [...libraryErrors.values()].sort((a, b) => b.count - a.count || a.origin.localeCompare(b.origin)),
    notes,
    aborted,
    passed: failures.length === 0,
    failures,
  };
}
