import type { Duplex } from 'node:stream';
import * as amqp from 'amqplib';
import { abortedError, closedError, SwitchboardError } from '@switchboard/core';
import type { DriverHost } from '@switchboard/core/driver';
import { classifyError } from './classify-error';
import { coalesceWrites } from './coalesce-writes';
import type { RabbitMQEndpoint, ResolvedRabbitMQOptions } from './options';

type Model = amqp.ChannelModel;

/** Opens one AMQP connection, trying each endpoint in turn, within `timeoutMs`; stops when `signal` fires. */
export async function openModel(endpoints: readonly RabbitMQEndpoint[], o: ResolvedRabbitMQOptions, timeoutMs: number, redacted: string, signal?: AbortSignal): Promise<Model> {
  const deadline = Date.now() + timeoutMs;
  let last: SwitchboardError | undefined;
  for (const ep of endpoints) {
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) break;
    try {
      return await connectWithin(ep, o, left, signal);
    } catch (err) {
      last = classifyError(err);
      if (last.code === 'auth') break;
    }
  }
  if (last) throw new SwitchboardError(last.code, `cannot connect to ${redacted}: ${last.message}`, { cause: last.cause, retryable: last.retryable });
  throw new SwitchboardError('connection', `cannot connect to ${redacted} within ${timeoutMs} ms`);
}

function connectWithin(ep: RabbitMQEndpoint, o: ResolvedRabbitMQOptions, timeoutMs: number, signal: AbortSignal | undefined): Promise<Model> {
  return new Promise<Model>((resolve, reject) => {
    let settled = false;
    const giveUp = (err: SwitchboardError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const timer = setTimeout(() => giveUp(new SwitchboardError('connection', `no AMQP handshake with ${ep.hostname}:${ep.port} within ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', () => giveUp(new SwitchboardError('connection', `gave up connecting to ${ep.hostname}:${ep.port}`)), { once: true });
    amqp
      .connect(
        { protocol: ep.protocol, hostname: ep.hostname, port: ep.port, username: ep.username, password: ep.password, vhost: ep.vhost, heartbeat: o.heartbeat },
        { ...(ep.protocol === 'amqps' ? o.tls : undefined), timeout: timeoutMs, clientProperties: { connection_name: o.connectionName } },
      )
      .then(
        (m) => {
          clearTimeout(timer);
          if (settled) {
            m.on('error', () => undefined);
            void m.close().catch(() => undefined);
            return;
          }
          settled = true;
          coalesceWrites((m.connection as unknown as { stream?: Duplex }).stream);
          resolve(m);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          reject(err);
        },
      );
  });
}

/** What a Link reports to: core's DriverHost (its logger and report). */
export type LinkHost = Pick<DriverHost, 'logger' | 'report'>;

const noop = (): void => undefined;
const quietHost: LinkHost = { logger: { debug: noop, info: noop, warn: noop, error: noop }, report: noop };

/** Something that holds broker state on a connection and rebuilds it after a reconnect. */
export interface Recoverable {
  /** Called with the new connection; may throw, then it is called again after a short delay. */
  recover(model: Model, generation: number): Promise<void>;
  /** Called when the connection is lost (before any reconnect). */
  lost(err: SwitchboardError): void;
}

/**
 * One AMQP connection that comes back by itself: amqplib does not reconnect, so on an unexpected
 * close this reconnects with exponential backoff and calls every registered {@link Recoverable}.
 * `generation` increases with every new connection; channels and delivery tags of an older
 * generation are dead.
 */
export class Link {
  private model: Model | undefined;
  private generationNo = 0;
  private closed = false;
  private waiters = new Set<{ resolve: (m: Model) => void; reject: (e: unknown) => void }>();
  private readonly members = new Set<Recoverable>();
  private reconnecting = false;
  private failure: SwitchboardError | undefined;
  private frameMaxNo = DEFAULT_FRAME_MAX;

  private lostAt = 0;
  private lostError: SwitchboardError | undefined;

  constructor(
    private readonly endpoints: readonly RabbitMQEndpoint[],
    readonly options: ResolvedRabbitMQOptions,
    readonly redacted: string,
    /** Where lost and regained connections are reported, and amqplib's own events logged (core's DriverHost). */
    private readonly host: LinkHost = quietHost,
  ) {}

  /** The application's logger (silent unless the app gave one). */
  get logger(): LinkHost['logger'] {
    return this.host.logger;
  }

  get generation(): number {
    return this.generationNo;
  }

  /**
   * The `frame_max` negotiated on the latest connection (amqplib asks for 131072; RabbitMQ's default
   * is the same). Kept across a reconnect, so a send can be checked while the connection is down.
   */
  get frameMax(): number {
    return this.frameMaxNo;
  }

  get isOpen(): boolean {
    return this.model !== undefined;
  }

  /** Opens the first connection within `timeoutMs`; `signal` stops trying (core's connect deadline). */
  async start(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const m = await openModel(this.endpoints, this.options, timeoutMs, this.redacted, signal);
    if (this.closed) {
      await m.close().catch(() => undefined);
      return;
    }
    this.adopt(m);
  }

  add(member: Recoverable): void {
    this.members.add(member);
  }

  remove(member: Recoverable): void {
    this.members.delete(member);
  }

  /** The live connection; waits up to `timeoutMs` for a reconnect, then rejects with a retryable `connection` error. */
  async current(timeoutMs = this.options.sendTimeoutMs, signal?: AbortSignal): Promise<Model> {
    if (this.closed) throw closedError('RabbitMQ connection');
    if (this.model) return this.model;
    if (this.failure) throw this.failure;
    if (signal?.aborted) throw abortedError(signal);
    return new Promise<Model>((resolve, reject) => {
      const w = {
        resolve: (m: Model) => { cleanup(); resolve(m); },
        reject: (e: unknown) => { cleanup(); reject(e); },
      };
      const timer = setTimeout(() => w.reject(new SwitchboardError('connection', `RabbitMQ connection to ${this.redacted} is down; not back within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => w.reject(abortedError(signal));
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(w);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(w);
    });
  }

  private adopt(m: Model): void {
    this.model = m;
    this.generationNo++;
    this.frameMaxNo = negotiatedFrameMax(m);
    const gen = this.generationNo;
    const log = this.host.logger;
    // amqplib has no logger: what it says comes as events, logged here (the close itself is reported by onClose).
    m.on('error', (err: Error) => log.debug({ backend: 'rabbitmq', url: this.redacted, err: err.message }, 'amqplib: connection error'));
    m.on('blocked', (reason: unknown) => log.warn({ backend: 'rabbitmq', url: this.redacted, reason: String(reason) }, 'RabbitMQ blocked this connection\'s publishes (a resource alarm): sends wait'));
    m.on('unblocked', () => log.info({ backend: 'rabbitmq', url: this.redacted }, 'RabbitMQ unblocked this connection\'s publishes'));
    m.on('close', (err?: Error) => this.onClose(gen, err));
    for (const w of [...this.waiters]) w.resolve(m);
  }

  private onClose(gen: number, err: Error | undefined): void {
    if (gen !== this.generationNo || this.closed) return;
    this.model = undefined;
    const e = err ? classifyError(err) : new SwitchboardError('connection', `RabbitMQ connection to ${this.redacted} closed`);
    const lost = e.code === 'connection' ? e : new SwitchboardError('connection', e.message, { cause: e });
    this.lostAt = Date.now();
    this.lostError = lost;
    this.host.report(
      { origin: 'reconnect', state: 'lost', error: lost },
      `RabbitMQ connection to ${this.redacted} lost (${lost.message})${this.options.reconnect ? '; reconnecting' : '; reconnect is off'}`,
      'warn',
    );
    for (const member of [...this.members]) {
      try { member.lost(lost); } catch { /* a member's own problem */ }
    }
    if (!this.options.reconnect) {
      this.failure = lost;
      for (const w of [...this.waiters]) w.reject(lost);
      return;
    }
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    let delay = this.options.reconnectDelayMs;
    try {
      while (!this.closed) {
        await sleep(delay * (0.8 + Math.random() * 0.4));
        if (this.closed) return;
        try {
          const m = await openModel(this.endpoints, this.options, this.options.connectTimeoutMs, this.redacted);
          if (this.closed) {
            await m.close().catch(() => undefined);
            return;
          }
          this.adopt(m);
          this.host.report(
            { origin: 'reconnect', state: 'regained', error: this.lostError ?? new SwitchboardError('connection', 'connection lost') },
            `RabbitMQ connection to ${this.redacted} is back after ${Date.now() - this.lostAt} ms`,
            'info',
          );
          await this.recoverAll(m, this.generationNo);
          return;
        } catch {
          delay = Math.min(delay * 2, this.options.reconnectMaxDelayMs);
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private async recoverAll(m: Model, gen: number): Promise<void> {
    const current = (member: Recoverable) => () => !this.closed && gen === this.generationNo && this.members.has(member);
    await Promise.all([...this.members].map((member) => keepTrying(() => member.recover(m, gen), current(member))));
  }

  /** Closes the connection for good. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = closedError('RabbitMQ connection');
    for (const w of [...this.waiters]) w.reject(err);
    const m = this.model;
    this.model = undefined;
    if (m) await m.close().catch(() => undefined);
  }
}

/** What amqplib proposes in `connection.tune-ok` unless told otherwise. */
export const DEFAULT_FRAME_MAX = 131072;

/** The frame_max amqplib settled on (`connection.frameMax`, not in its typings); 0 from the broker means none. */
export function negotiatedFrameMax(m: Model): number {
  const n = (m.connection as unknown as { frameMax?: unknown }).frameMax;
  return typeof n === 'number' && Number.isFinite(n) && n >= 4096 ? Math.min(n, 0xffffffff) : DEFAULT_FRAME_MAX;
}

/** Runs `attempt` until it succeeds or `goOn()` turns false, backing off from 200 ms to 5 s. */
export async function keepTrying(attempt: () => Promise<void>, goOn: () => boolean): Promise<void> {
  for (let i = 0; goOn(); i++) {
    try {
      await attempt();
      return;
    } catch {
      await sleep(Math.min(200 * 2 ** i, 5000));
    }
  }
}

/** Wraps `run` so that concurrent calls share one run. */
export function shared(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () =>
    (running ??= run().finally(() => {
      running = undefined;
    }));
}

/** Resolves after `ms`, or as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
