import { connect as natsConnect, createInbox, nanos, type Msg, type MsgHdrs, type NatsConnection, type Subscription as NatsSubscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import {
  closedError,
  createReply,
  DEFAULT_REQUEST_TIMEOUT_MS,
  formatHosts,
  normalizeMessages,
  PendingReplies,
  requireCapability,
  resolveConsumerOptions,
  SwitchboardError,
  throwIfAborted,
  abortedError,
  toDestination,
  validateSendOptions,
  type Admin,
  type Body,
  type Capabilities,
  type Connection,
  type Consumer,
  type ConsumerOptions,
  type Destination,
  type DestinationLike,
  type DestinationOptions,
  type NormalizedMessage,
  type OutgoingMessage,
  type ParsedUrl,
  type Producer,
  type Reply,
  type RequestOptions,
  type SendOptions,
  type SendReceipt,
} from '@switchboard/core';
import { selectCapabilities } from './capabilities';
import { classifyError } from './errors';
import { assertWireSize, buildHeaders, readHeaders } from './messages';
import { assertGroupName, assertNatsName, streamNames, type StreamNames } from './names';
import { resolveNatsOptions, type NatsOptions, type ResolvedNatsOptions } from './options';
import { createCoreConsumer } from './core-consumer';
import { createJetStreamConsumer } from './jetstream-consumer';

const API_STREAM_NAME_IN_USE = 10058;
const PUBLISH_CHUNK = 256;

/** A NATS connection in either mode. See {@link connectNats}. */
export interface NatsConnection_ extends Connection {
  /** `jetstream` or `core`. */
  readonly mode: 'jetstream' | 'core';
}

/** Internal state shared with the consumers of one connection. */
export interface NatsContext {
  readonly nc: NatsConnection;
  readonly options: ResolvedNatsOptions;
  readonly capabilities: Capabilities;
  readonly js: JetStreamClient | undefined;
  readonly jsm: JetStreamManager | undefined;
  readonly maxPayload: number;
  names(d: Destination): StreamNames;
  ensureStream(d: Destination, options?: DestinationOptions): Promise<void>;
  /** Publishes one message into a JetStream destination and waits for the PubAck; returns the stream sequence. */
  publishStored(d: Destination, m: NormalizedMessage, h: MsgHdrs, msgId?: string): Promise<number>;
  /** Remembered -NAKs a consumer sent to hold back a delayed message (they are not attempts). */
  readonly delayNaks: Map<string, number>;
  isClosed(): boolean;
}

/** Whether the URL gives a user (with or without password) or a token. */
export function hasCredentials(parsed: ParsedUrl): boolean {
  return parsed.username !== undefined && parsed.username !== '';
}

function withTimeout<T>(p: Promise<T>, ms: number, onLate: (v: T) => void, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new SwitchboardError('connection', `${what}: no connection within ${ms} ms`));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        if (timedOut) onLate(v);
        else resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        if (!timedOut) reject(e);
      },
    );
  });
}

/**
 * Connects to NATS. `nats://` and `nats+js://` use JetStream (durable mailboxes and topics),
 * `nats+core://` core NATS (at-most-once). Credentials come from the URL: `user:password@host` or a
 * token as `token@host`. Rejects with `configuration` (bad URL or options, all problems listed),
 * `auth` (credentials refused), `connection` (unreachable within connectTimeoutMs), `unsupported`
 * (JetStream mode on a server without JetStream).
 */
export async function openNatsConnection(parsed: ParsedUrl, rawOptions: NatsOptions | Record<string, unknown> = {}): Promise<NatsConnection_> {
  const options = resolveNatsOptions(parsed, rawOptions);
  const servers = parsed.hosts.length ? formatHosts(parsed.hosts, 4222) : ['127.0.0.1:4222'];
  const auth =
    parsed.username !== undefined && parsed.password !== undefined
      ? { user: parsed.username, pass: parsed.password }
      : parsed.username !== undefined && parsed.username !== ''
        ? { token: parsed.username }
        : {};
  let nc: NatsConnection;
  try {
    nc = await withTimeout(
      natsConnect({
        servers,
        name: options.name,
        timeout: options.connectTimeoutMs,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: options.reconnectTimeWaitMs,
        reconnectJitter: 50,
        waitOnFirstConnect: false,
        pingInterval: 10_000,
        ...auth,
      }),
      options.connectTimeoutMs,
      (late) => void late.close().catch(() => undefined),
      `connecting to ${parsed.redacted}`,
    );
  } catch (err) {
    const e = classifyError(err);
    const code = e.code === 'auth' ? 'auth' : e.code === 'configuration' ? 'configuration' : 'connection';
    throw new SwitchboardError(code, `cannot connect to ${parsed.redacted}: ${e.message.replace(/^nats: /, '')}`, { cause: err });
  }
  let js: JetStreamClient | undefined;
  let jsm: JetStreamManager | undefined;
  if (options.mode === 'jetstream') {
    try {
      jsm = await jetstreamManager(nc, { timeout: options.apiTimeoutMs });
      js = jetstream(nc, { timeout: options.apiTimeoutMs });
    } catch (err) {
      await nc.close().catch(() => undefined);
      const e = classifyError(err);
      if (e.code === 'auth') throw new SwitchboardError('auth', `JetStream at ${parsed.redacted}: ${e.message}`, { cause: err });
      throw new SwitchboardError('unsupported', `JetStream is not available at ${parsed.redacted} (${e.message}); use nats+core:// for core NATS`, { cause: err });
    }
  }
  return new NatsConnectionImpl(parsed, options, nc, js, jsm);
}

class NatsConnectionImpl implements NatsConnection_, NatsContext {
  readonly backend = 'nats';
  readonly url: string;
  readonly mode: 'jetstream' | 'core';
  readonly capabilities: Capabilities;
  readonly admin: Admin;
  readonly maxPayload: number;
  readonly delayNaks = new Map<string, number>();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly streams = new Map<string, Promise<void>>();
  private readonly producers = new Set<NatsProducer>();
  private readonly consumers = new Set<Consumer>();

  constructor(
    parsed: ParsedUrl,
    readonly options: ResolvedNatsOptions,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient | undefined,
    readonly jsm: JetStreamManager | undefined,
  ) {
    this.url = parsed.redacted;
    this.mode = options.mode;
    this.capabilities = selectCapabilities(options.mode, hasCredentials(parsed));
    this.maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    this.admin = {
      ensureDestination: async (dl: DestinationLike, o?: DestinationOptions) => {
        this.assertOpen();
        const d = toDestination(dl);
        assertNatsName(d);
        if (this.mode === 'core') return;
        await this.ensureStream(d, o);
      },
      deleteDestination: async (dl: DestinationLike) => {
        this.assertOpen();
        const d = toDestination(dl);
        assertNatsName(d);
        if (this.mode === 'core') return;
        const { stream } = this.names(d);
        this.streams.delete(stream);
        try {
          await this.jsm!.streams.delete(stream);
        } catch (err) {
          const e = classifyError(err);
          if (e.code !== 'not_found') throw e;
        }
      },
    };
  }

  isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw closedError(`NATS connection ${this.url}`);
  }

  names(d: Destination): StreamNames {
    return streamNames(d, this.options.streamPrefix, this.options.subjectPrefix);
  }

  ensureStream(d: Destination, o?: DestinationOptions): Promise<void> {
    const { stream, subject } = this.names(d);
    let p = this.streams.get(stream);
    if (!p) {
      const retention = o?.retentionMs ?? this.options.retentionMs;
      const cfg: Partial<StreamConfig> & { name: string } = {
        name: stream,
        subjects: [subject],
        retention: d.kind === 'queue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
        storage: this.options.storage === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: this.options.replicas,
        duplicate_window: nanos(this.options.duplicateWindowMs),
        discard: DiscardPolicy.Old,
        max_age: d.kind === 'topic' && retention ? nanos(retention) : 0,
        description: `switchboard ${d.kind} ${d.name}`.slice(0, 4096),
      };
      p = this.jsm!.streams.add(cfg).then(
        () => undefined,
        (err: unknown) => {
          const code = (err as { apiError?: () => { err_code?: number } }).apiError?.().err_code;
          if (code === API_STREAM_NAME_IN_USE) return;
          throw classifyError(err);
        },
      );
      this.streams.set(stream, p);
      p.catch(() => this.streams.delete(stream));
    }
    return p;
  }

  forgetStream(d: Destination): void {
    this.streams.delete(this.names(d).stream);
  }

  async publishStored(d: Destination, m: NormalizedMessage, h: MsgHdrs, msgId: string = m.id): Promise<number> {
    const { subject } = this.names(d);
    await this.ensureStream(d);
    const go = () => this.js!.publish(subject, m.body, { headers: h, msgID: msgId, timeout: this.options.apiTimeoutMs });
    try {
      return (await go()).seq;
    } catch (err) {
      const e = classifyError(err);
      if (e.code !== 'no_responders') throw e;
      // The stream went away (deleted behind our back): make it again, once.
      this.forgetStream(d);
      await this.ensureStream(d);
      try {
        return (await go()).seq;
      } catch (err2) {
        throw classifyError(err2);
      }
    }
  }

  producer(): Producer {
    this.assertOpen();
    const p = new NatsProducer(this);
    this.producers.add(p);
    return p;
  }

  async consumer(sourceLike: DestinationLike, options?: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    const source = toDestination(sourceLike);
    assertNatsName(source);
    const o = resolveConsumerOptions(source, options);
    if (!assertGroupName(o.group)) {
      throw new SwitchboardError('invalid_argument', `invalid group "${o.group.slice(0, 200)}": printable ASCII without whitespace or wildcards`);
    }
    assertNatsName(o.deadLetter);
    throwIfAborted(o.signal);
    if (o.filter) requireCapability(this.capabilities, 'headerFilter');
    let c: Consumer;
    try {
      c = this.mode === 'core' ? await createCoreConsumer(this, source, o) : await createJetStreamConsumer(this, source, o);
    } catch (err) {
      throw classifyError(err);
    }
    this.consumers.add(c);
    const close = c.close.bind(c);
    const wrapped: Consumer = Object.assign(c, {
      close: () => close().finally(() => this.consumers.delete(wrapped)),
    });
    o.signal?.addEventListener('abort', () => void wrapped.close().catch(() => undefined), { once: true });
    return wrapped;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await Promise.allSettled([...this.consumers].map((c) => c.close()));
      await Promise.allSettled([...this.producers].map((p) => p.close()));
      try {
        await this.nc.drain();
      } catch {
        await this.nc.close().catch(() => undefined);
      }
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Producer of either mode. */
class NatsProducer implements Producer {
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private replySub: NatsSubscription | undefined;
  private replyInbox: string | undefined;
  private readonly pending = new PendingReplies();

  constructor(private readonly ctx: NatsConnectionImpl) {}

  private assertOpen(): void {
    if (this.closed || this.ctx.isClosed()) throw closedError('NATS producer');
  }

  send(destination: DestinationLike, message: OutgoingMessage | Body, options?: SendOptions): Promise<SendReceipt>;
  send(destination: DestinationLike, messages: readonly (OutgoingMessage | Body)[], options?: SendOptions): Promise<SendReceipt[]>;
  send(destination: DestinationLike, input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options: SendOptions = {}): Promise<SendReceipt | SendReceipt[]> {
    const p = this.doSend(destination, input, options).then((r) => (Array.isArray(input) ? r : r[0]!));
    this.inflight.add(p);
    void p.catch(() => undefined).finally(() => this.inflight.delete(p));
    return p;
  }

  private async doSend(destination: DestinationLike, input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options: SendOptions): Promise<SendReceipt[]> {
    this.assertOpen();
    validateSendOptions(options);
    const d = toDestination(destination);
    assertNatsName(d);
    const messages = normalizeMessages(input, options);
    const delayMs = options.delayMs ?? 0;
    if (delayMs > 0) requireCapability(this.ctx.capabilities, 'delayedSend');
    throwIfAborted(options.signal);
    const js = this.ctx.mode === 'jetstream';
    const notBefore = delayMs > 0 ? Date.now() + delayMs : undefined;
    const built = messages.map((m, i) => {
      const h = buildHeaders(m, notBefore === undefined ? {} : { notBefore }, js);
      assertWireSize(m, h, this.ctx.maxPayload, i);
      return { m, h };
    });
    const confirm = options.confirm !== false;
    const dest = d.name;
    if (!js) {
      try {
        for (const { m, h } of built) this.ctx.nc.publish(d.name, m.body, { headers: h });
        if (confirm) await this.ctx.nc.flush();
      } catch (err) {
        throw classifyError(err);
      }
      return built.map(({ m }) => ({ id: m.id, destination: dest, confirmed: false }));
    }
    if (!confirm) {
      await this.ctx.ensureStream(d);
      const { subject } = this.ctx.names(d);
      try {
        for (const { m, h } of built) this.ctx.nc.publish(subject, m.body, { headers: h });
      } catch (err) {
        throw classifyError(err);
      }
      return built.map(({ m }) => ({ id: m.id, destination: dest, confirmed: false }));
    }
    const receipts: SendReceipt[] = [];
    for (let i = 0; i < built.length; i += PUBLISH_CHUNK) {
      throwIfAbortedWith(options.signal, receipts);
      const chunk = built.slice(i, i + PUBLISH_CHUNK);
      const results = await Promise.allSettled(chunk.map(({ m, h }) => this.ctx.publishStored(d, m, h)));
      for (let j = 0; j < results.length; j++) {
        const r = results[j]!;
        if (r.status === 'rejected') {
          const e = classifyError(r.reason);
          throw new SwitchboardError(e.code, e.message, { cause: r.reason, retryable: e.retryable, details: { ...e.details, receipts } });
        }
        receipts.push({ id: chunk[j]!.m.id, destination: dest, confirmed: true, brokerRef: String(r.value) });
      }
    }
    return receipts;
  }

  async request(destination: DestinationLike, message: OutgoingMessage | Body, options: RequestOptions = {}): Promise<Reply> {
    this.assertOpen();
    const d = toDestination(destination);
    assertNatsName(d);
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new SwitchboardError('invalid_argument', 'request timeoutMs must be a positive number');
    const sendOpts: SendOptions = {};
    if (options.headers) sendOpts.headers = options.headers;
    if (options.key !== undefined) sendOpts.key = options.key;
    if (options.id !== undefined) sendOpts.id = options.id;
    const [m] = normalizeMessages(message, sendOpts);
    const correlationId = m!.id;
    throwIfAborted(options.signal);
    if (this.ctx.mode === 'core') return this.coreRequest(d, m!, correlationId, timeoutMs, options.signal);
    const inbox = this.ensureReplyInbox();
    const h = buildHeaders(m!, { replyTo: inbox, correlationId }, true);
    assertWireSize(m!, h, this.ctx.maxPayload, 0);
    const wait = this.pending.wait(correlationId, timeoutMs, options.signal, `${d.kind} ${d.name}`);
    wait.catch(() => undefined); // settled (timeout, abort) while the publish is still going: reported through `wait` below
    try {
      await this.ctx.publishStored(d, m!, h);
    } catch (err) {
      this.pending.reject(correlationId, classifyError(err));
    }
    return wait;
  }

  private ensureReplyInbox(): string {
    if (!this.replyInbox) {
      const inbox = createInbox();
      this.replySub = this.ctx.nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err) return;
          const r = readHeaders(msg.headers);
          if (r.correlationId) this.pending.resolve(r.correlationId, createReply(msg.data, r.user, r.correlationId));
        },
      });
      this.replyInbox = inbox;
    }
    return this.replyInbox;
  }

  private async coreRequest(d: Destination, m: NormalizedMessage, correlationId: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Reply> {
    const h = buildHeaders(m, { correlationId });
    assertWireSize(m, h, this.ctx.maxPayload, 0);
    const req = this.ctx.nc.request(d.name, m.body, { timeout: timeoutMs, headers: h });
    const reply = new Promise<Msg>((resolve, reject) => {
      const onAbort = () => reject(abortedError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.then(
        (msg) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(msg);
        },
        (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
    let msg: Msg;
    try {
      msg = await reply;
    } catch (err) {
      const e = classifyError(err);
      if (e.code === 'timeout') throw new SwitchboardError('timeout', `no reply to the request on ${d.kind} ${d.name} within ${timeoutMs} ms`, { cause: err });
      throw e;
    }
    const r = readHeaders(msg.headers);
    return createReply(msg.data, r.user, r.correlationId ?? correlationId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
    this.pending.rejectAll(closedError('NATS producer'));
    this.replySub?.unsubscribe();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function throwIfAbortedWith(signal: AbortSignal | undefined, receipts: SendReceipt[]): void {
  if (signal?.aborted) {
    const e = abortedError(signal);
    throw new SwitchboardError('aborted', e.message, { cause: e.cause, details: { receipts } });
  }
}
