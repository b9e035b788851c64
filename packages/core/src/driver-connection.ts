import { addBackend, type BackendInfo } from './backends';
import { requireCapability, type Capabilities } from './capabilities';
import { createDriverConsumer, type ConsumerDriver } from './consumer-engine';
import { formatDestination, toDestination } from './destination';
import { createTracing, type Tracing } from './tracing';
import { typedConsumer, typedProducer } from './typed';
import { CloseDeadline, HAND_BACK_MS, sleep } from './close-deadline';
import { checkDiagnosticsOptions, createDiagnostics, silentDiagnostics, type Diagnostics, type DiagnosticsOptions, type ErrorEvent, type Logger } from './diagnostics';
import { abortedError, closedError, SwitchboardError, throwIfAborted, toSwitchboardError } from './errors';
import { assertMessageSizes, idFromBroker, normalizeMessages, type NormalizedMessage } from './message';
import { resolveConsumerOptions, resolveProducerOptions, validateSendOptions, type ResolvedConsumerOptions } from './options';
import { DEFAULT_REQUEST_TIMEOUT_MS, PendingReplies } from './request';
import type { ParsedUrl } from './url';
import { newId } from './ids';
import type {
  Admin,
  BrokerObject,
  Limits,
  CloseOptions,
  Body,
  Connection,
  Consumer,
  ConsumerOptions,
  Destination,
  DestinationLike,
  DestinationOptions,
  OutgoingMessage,
  Producer,
  Reply,
  RequestOptions,
  SendOptions,
  SendReceipt,
} from './types';

/** Where a driver hands the replies it receives; core matches them to waiting requests. */
export interface ReplySink {
  /** Settles the request with this correlation id; false when none waits (late or foreign reply). */
  resolve(correlationId: string, reply: Reply): boolean;
  /** Fails the request with this correlation id (e.g. `no_responders`). */
  reject(correlationId: string, err: unknown): boolean;
  /** Fails every pending request, e.g. when the channel replies arrive on is lost. */
  rejectAll(err: unknown): void;
  /** Whether a request with this correlation id still waits (not answered, timed out, aborted or closed). */
  isWaiting(correlationId: string): boolean;
}

/** What a request carries to the driver, besides the message. */
export interface RequestMeta {
  readonly correlationId: string;
  /** The whole deadline; the driver may use it as a message TTL. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

/**
 * The broker half of a connection, written by each driver: only what is specific to the broker.
 * Core builds the public Connection, Producer and Consumer on top, and calls these methods only
 * with validated input (destination names checked, messages normalized and within the size limit).
 */
export interface DriverSession {
  /** The URL with any secret removed. */
  readonly url: string;
  readonly capabilities: Capabilities;
  /** Largest message (body + key + header names and values) the broker takes. */
  readonly maxMessageBytes: number;
  /** How the size limit is named in errors, e.g. "Kafka topic (max.message.bytes)". */
  readonly limitName: string;
  /** Most application headers per message, where the broker counts them; `checkMessages` enforces it. */
  readonly maxHeaders?: number;
  /** Longest send or nack delay, where the broker caps it; `checkMessages` enforces it. */
  readonly maxDelayMs?: number;
  /**
   * The broker names every message it stores, uniquely and for good (a Redis stream entry id), and
   * hands the name back as the message's reference and on every delivery of it. A message whose id
   * would only have been generated takes that name instead ({@link idFromBroker} says which ones):
   * the driver does not write the generated id, the receipt's `id` is the name (the reference, or
   * the `id` of a {@link NamedOutcome}), and every delivery of the message carries the same name.
   * Absent: every message carries the id core gave it.
   */
  readonly brokerNamesMessages?: boolean;
  /** Throws `invalid_argument` when the broker cannot use this name. Called before any network effect. */
  checkDestination(destination: Destination): void;
  /** Further broker limits on a send (header count, delay ceiling); throws before anything is sent. */
  checkMessages?(destination: Destination, messages: readonly NormalizedMessage[]): void;
  /**
   * Publishes a batch. Returns either one promise per message, in order, resolving with the
   * broker's reference once the broker confirmed it (with `confirm: false`, once handed to the
   * client, with undefined), where a rejected promise fails only its own message; or one promise
   * for the whole batch ({@link PublishOutcomes}), which spares a promise per message where the
   * broker confirms a batch at once.
   */
  publish(destination: Destination, messages: readonly NormalizedMessage[], options: PublishOptions): readonly Promise<string | undefined>[] | Promise<PublishOutcomes>;
  /**
   * Sends a request whose reply goes to this connection's reply address, carrying
   * `meta.correlationId`. The reply reaches core through the {@link DriverHost.replies} sink.
   * Absent: the backend has no request/response (the capability says why).
   */
  request?(destination: Destination, message: NormalizedMessage, meta: RequestMeta): Promise<void>;
  /** Sends a reply to a request's reply-to address. */
  reply(replyTo: string, correlationId: string | undefined, message: NormalizedMessage): Promise<void>;
  /** Joins `options.group` on `source`; resolves once messages published from now on will reach the group. */
  consumer(source: Destination, options: ResolvedConsumerOptions): Promise<ConsumerDriver<unknown>>;
  ensureDestination(destination: Destination, options: DestinationOptions | undefined): Promise<void>;
  /** Deletes the destination and every per-group object the driver made for it. */
  deleteDestination(destination: Destination): Promise<void>;
  /** Deletes one group's objects (checked group name). Absent: `admin.deleteGroup` is `unsupported`. */
  deleteGroup?(destination: Destination, group: string): Promise<void>;
  /** Lists what the driver made for the destination. Absent: `admin.listObjects` is `unsupported`. */
  listObjects?(destination: Destination): Promise<BrokerObject[]>;
  /** Maps the client library's errors to Switchboard error codes. */
  classifyError(err: unknown): SwitchboardError;
  /** Frees the client. Core calls it once, after every consumer and producer closed. */
  close(): Promise<void>;
}

/**
 * What a batch's one promise resolves with: one entry per message, in order, the broker's reference
 * (undefined with `confirm: false`), a {@link NamedOutcome}, or the Error that failed that message
 * alone. The promise rejects when the whole batch failed.
 */
export type PublishOutcomes = readonly (string | NamedOutcome | undefined | Error)[];

/**
 * The outcome of a message the broker named ({@link DriverSession.brokerNamesMessages}) where the
 * id it is delivered under is not its reference itself (Kafka: `<topic>:<partition>:<offset>@<timestamp>`
 * beside the reference `<partition>:<offset>`). Where the two are one, the reference alone says it.
 */
export interface NamedOutcome {
  readonly ref: string;
  readonly id: string;
}

export interface PublishOptions {
  readonly confirm: boolean;
  readonly signal: AbortSignal | undefined;
}

/** What core gives a driver when it opens a session. */
export interface DriverHost {
  /** Replies to requests go here. */
  readonly replies: ReplySink;
  /** Fires when the connect timeout passes or the caller gives up: stop connecting. */
  readonly signal: AbortSignal;
  readonly connectTimeoutMs: number;
  /** The application's logger (silent by default): route the client library's own logs here. */
  readonly logger: Logger;
  /**
   * Reports what the application should hear about: lost and regained connections (`reconnect`),
   * failures of background work. Logged and passed to the `onError` hook; never throws.
   */
  report(event: ErrorEvent, message: string, level?: 'debug' | 'info' | 'warn' | 'error'): void;
}

/**
 * Options of each backend, under the backend's name. A backend package adds its entry when
 * imported, by module augmentation (`kafka?: KafkaConnectOptions`), so that
 * `connect(url, { kafka: { clientId } })` is type-checked. One options object can hold the
 * options of every backend an application may run on; `connect` hands the driver the URL selects
 * only the entry under its name, and that driver rejects names it does not know.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface BackendConnectOptions {}

/**
 * Options of `connect(url, options)`: the ones every backend understands, and each backend's own
 * under its name (see {@link BackendConnectOptions}). There is no catch-all: a misspelt option is
 * a type error, and at run time a `configuration` error naming it.
 */
export interface ConnectOptions extends DiagnosticsOptions, BackendConnectOptions {
  /** Give up connecting after this long (default 10000 ms) with a `connection` error. */
  connectTimeoutMs?: number;
  /** Drivers to use before the registry: `connect(url, { drivers: [kafka] })` works in bundles. */
  drivers?: readonly Driver[];
}

/**
 * What a driver's `connect` receives: the common options (not `drivers`) and its own backend's
 * options, flat, validated by the driver's option schema (unknown names are a `configuration` error).
 */
export type DriverConnectOptions = DiagnosticsOptions & { readonly connectTimeoutMs?: number } & { readonly [key: string]: unknown };

/** What a backend package exports as `driver`: `connect(url)` reaches the backend through it. */
export interface Driver {
  /** Backend name, e.g. "kafka". */
  readonly name: string;
  /** URL schemes it serves, lower case without "://". */
  readonly schemes: readonly string[];
  /** Its entry in the backend registry. */
  readonly info?: BackendInfo;
  connect(url: ParsedUrl, options: DriverConnectOptions): Promise<Connection>;
}

/** A driver described once: registry data plus the function that opens a session. */
export interface DriverDefinition extends BackendInfo {
  open(url: ParsedUrl, options: DriverConnectOptions, host: DriverHost): Promise<DriverSession>;
  /**
   * Classifies what `open()` rejects with, when it is not a SwitchboardError yet (refused
   * credentials -> `auth`, unreachable -> `connection`, ...). Without it, or when it returns no
   * SwitchboardError, such a rejection becomes a `connection` error with the original as `cause`.
   */
  classifyError?(err: unknown): SwitchboardError;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Turns a driver definition into the {@link Driver} that `connect()` uses. Core owns the connect
 * timeout: past it the attempt fails with `connection`, and a session that opens late is closed.
 */
export function defineDriver(def: DriverDefinition): Driver {
  const { open, classifyError, ...info } = def;
  const classifyOpen = (err: unknown): SwitchboardError => toSwitchboardError(err instanceof SwitchboardError || !classifyError ? err : classifyError(err), 'connection');
  return {
    name: info.name,
    schemes: info.schemes,
    info,
    async connect(url, connectOptions) {
      const { logger, onError, ...options } = connectOptions;
      checkDiagnosticsOptions({ logger, onError });
      const diagnostics = createDiagnostics({ logger, onError });
      const timeoutMs = connectTimeoutOf(url, options);
      const replies = new PendingReplies();
      const ac = new AbortController();
      const host: DriverHost = {
        replies: reportingDrops(replies, diagnostics, info.name),
        signal: ac.signal,
        connectTimeoutMs: timeoutMs,
        logger: diagnostics.logger,
        report: diagnostics.report,
      };
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new SwitchboardError('connection', `${info.name}: ${url.redacted} did not answer within ${timeoutMs} ms`);
          ac.abort(err);
          reject(err);
        }, timeoutMs);
      });
      // Nobody else may be listening when the deadline fires after open() already failed.
      deadline.catch(() => undefined);
      let opening: Promise<DriverSession>;
      try {
        // An open() that throws before it returns a promise (bad options) fails here, timer cleared.
        opening = Promise.resolve(open(url, options, host));
      } catch (err) {
        clearTimeout(timer);
        throw classifyOpen(err);
      }
      let session: DriverSession;
      try {
        session = await Promise.race([opening, deadline]);
      } catch (err) {
        opening.then((late) => late.close()).catch(() => undefined);
        throw classifyOpen(err);
      } finally {
        clearTimeout(timer);
      }
      return createConnection(info.name, session, replies, diagnostics);
    },
  };
}

/** The reply sink a driver gets: a reply nobody waits for is reported, then dropped. */
function reportingDrops(replies: PendingReplies, diagnostics: Diagnostics, backend: string): ReplySink {
  return {
    resolve(correlationId, reply) {
      if (replies.resolve(correlationId, reply)) return true;
      diagnostics.report(
        { origin: 'reply', error: new SwitchboardError('not_found', `${backend}: a reply with correlation id ${correlationId} arrived, but no request waits for it (timed out, aborted, or not ours): dropped`) },
        'reply dropped',
        'info',
      );
      return false;
    },
    reject: (correlationId, err) => replies.reject(correlationId, err),
    rejectAll: (err) => replies.rejectAll(err),
    isWaiting: (correlationId) => replies.isWaiting(correlationId),
  };
}

/**
 * The connect deadline: `connectTimeoutMs` from the code options, else from the URL's query, else
 * {@link DEFAULT_CONNECT_TIMEOUT_MS}. A bad value is a configuration error naming where it came from.
 */
function connectTimeoutOf(url: ParsedUrl, options: DriverConnectOptions): number {
  const fromUrl = url.params.connectTimeoutMs;
  const raw: unknown = options.connectTimeoutMs ?? (fromUrl === undefined ? undefined : Number(fromUrl));
  if (raw === undefined) return DEFAULT_CONNECT_TIMEOUT_MS;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0) {
    const where = options.connectTimeoutMs !== undefined ? 'connect options' : `URL ${url.redacted}`;
    const problem = `connectTimeoutMs: must be a positive number of milliseconds (got ${JSON.stringify(options.connectTimeoutMs ?? fromUrl)})`;
    throw new SwitchboardError('configuration', `invalid ${where}: 1 problem\n- ${problem}`, { details: { problems: [problem] } });
  }
  return raw;
}

const registered = new Map<string, Driver>();

/** Registers a driver for its schemes (replacing any before it) and adds it to the backend registry. */
export function registerDriver(driver: Driver): void {
  for (const s of driver.schemes) registered.set(s.toLowerCase(), driver);
  addBackend(driver.info ?? { name: driver.name, displayName: driver.name, package: driver.name, schemes: driver.schemes });
}

/** The registered driver of a scheme, if any. */
export function registeredDriver(scheme: string): Driver | undefined {
  return registered.get(scheme.toLowerCase());
}

/** Names of the registered drivers. */
export function registeredDriverNames(): string[] {
  return [...new Set([...registered.values()].map((d) => d.name))];
}

/**
 * Builds the public Connection on a driver session. One validation order for every send, one
 * receipt format, one close path, request timeouts and correlation, and the consumer engine.
 */
export function createConnection(backend: string, session: DriverSession, replies: PendingReplies = new PendingReplies(), diagnostics: Diagnostics = silentDiagnostics): Connection {
  let closed = false;
  let closing: Promise<void> | undefined;
  const producers = new Set<Producer>();
  const consumers = new Set<Consumer>();
  const caps = session.capabilities;
  const deadline = new CloseDeadline();
  const tracing = createTracing(backend);

  const assertOpen = () => {
    if (closed) throw closedError(`${backend} connection`);
  };
  const checked = (d: DestinationLike): Destination => {
    const dest = toDestination(d);
    session.checkDestination(dest);
    return dest;
  };
  const classify = (err: unknown) => (err instanceof SwitchboardError ? err : toSwitchboardError(session.classifyError(err)));
  // One of each for every consumer of the connection, not a closure per consumer.
  const consumerReply = (replyTo: string, correlationId: string | undefined, m: NormalizedMessage) => {
    tracing.injectReply(m);
    return sendReply(session, replyTo, correlationId, m, classify);
  };
  const forgetConsumer = (c: Consumer) => void consumers.delete(c);

  const admin: Admin = {
    async ensureDestination(d, options) {
      assertOpen();
      await session.ensureDestination(checked(d), options).catch((err: unknown) => Promise.reject(classify(err)));
    },
    async deleteDestination(d) {
      assertOpen();
      await session.deleteDestination(checked(d)).catch((err: unknown) => Promise.reject(classify(err)));
    },
    async deleteGroup(d, group) {
      assertOpen();
      const dest = checked(d);
      if (typeof group !== 'string' || group.length === 0) throw new SwitchboardError('invalid_argument', 'deleteGroup needs a group name');
      if (!session.deleteGroup) throw new SwitchboardError('unsupported', `${backend}: deleteGroup is not supported by this driver`);
      await session.deleteGroup(dest, group).catch((err: unknown) => Promise.reject(classify(err)));
    },
    async listObjects(d) {
      assertOpen();
      const dest = checked(d);
      if (!session.listObjects) throw new SwitchboardError('unsupported', `${backend}: listObjects is not supported by this driver`);
      return session.listObjects(dest).catch((err: unknown) => Promise.reject(classify(err)));
    },
  };

  const openConsumer = async (s: DestinationLike, options?: ConsumerOptions): Promise<Consumer> => {
    assertOpen();
    const source = checked(s);
    const o = resolveConsumerOptions(source, options);
    try {
      session.checkDestination(o.deadLetter);
    } catch (err) {
      // The default dead-letter name is derived: say so, and how to choose another.
      if (options?.deadLetter !== undefined || !(err instanceof SwitchboardError)) throw err;
      throw new SwitchboardError(err.code, `the default dead-letter destination ${formatDestination(o.deadLetter)} of ${formatDestination(source)} is not a valid name (${err.message}); pass the deadLetter option`, { cause: err });
    }
    if (o.filter && Object.keys(o.filter).length > 0) requireCapability(caps, 'headerFilter');
    throwIfAborted(o.signal);
    let driver: ConsumerDriver<unknown>;
    try {
      driver = await session.consumer(source, o);
    } catch (err) {
      throw classify(err);
    }
    const c: Consumer = createDriverConsumer(driver, {
      source,
      options: o,
      capabilities: caps,
      reply: consumerReply,
      diagnostics,
      tracing,
      onClosed: forgetConsumer,
    });
    consumers.add(c);
    if (closed || o.signal?.aborted) {
      await c.close();
      throw closed ? closedError(`${backend} connection`) : abortedError(o.signal);
    }
    return o.schema ? (typedConsumer(c, o.schema, o.serializer, diagnostics) as unknown as Consumer) : c;
  };

  const limits: Limits = Object.freeze({
    maxMessageBytes: session.maxMessageBytes,
    ...(session.maxHeaders !== undefined ? { maxHeaders: session.maxHeaders } : {}),
    ...(session.maxDelayMs !== undefined ? { maxDelayMs: session.maxDelayMs } : {}),
  });

  const connection: Connection = {
    backend,
    limits,
    url: session.url,
    capabilities: caps,
    admin,
    // One implementation behind both overloads (typed and untyped).
    producer: ((options?: unknown) => {
      assertOpen();
      const typed = resolveProducerOptions(options);
      const p = createProducer({ backend, session, replies, assertConnectionOpen: assertOpen, checked, classify, tracing, onClosed: () => producers.delete(p) });
      producers.add(p);
      return typed ? typedProducer(p, typed.schema, typed.serializer) : p;
    }) as Connection['producer'],
    // One implementation behind both overloads (typed and untyped).
    consumer: openConsumer as Connection['consumer'],
    close(options?: CloseOptions) {
      try {
        deadline.set(options);
      } catch (err) {
        return Promise.reject(err);
      }
      // Consumers already closing hear about a shorter deadline too.
      for (const c of consumers) c.close({ timeoutMs: deadline.remaining() }).catch(() => undefined);
      closing ??= (async () => {
        closed = true;
        const work = (async () => {
          await Promise.allSettled([...consumers].map((c) => c.close({ timeoutMs: deadline.remaining() })));
          await Promise.allSettled([...producers].map((p) => p.close()));
          replies.rejectAll(closedError(`${backend} connection`));
          await session.close();
        })();
        // Past the deadline (and the hand-back moment), close resolves; the broker redelivers what is left.
        await Promise.race([work, deadline.passed.then(() => sleep(HAND_BACK_MS))]);
        replies.rejectAll(closedError(`${backend} connection`));
        deadline.dispose();
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return connection.close();
    },
  };
  return connection;
}

async function sendReply(session: DriverSession, replyTo: string, correlationId: string | undefined, m: NormalizedMessage, classify: (e: unknown) => SwitchboardError): Promise<void> {
  assertMessageSizes([m], session.maxMessageBytes, session.limitName);
  try {
    await session.reply(replyTo, correlationId, m);
  } catch (err) {
    throw classify(err);
  }
}

interface ProducerContext {
  backend: string;
  session: DriverSession;
  replies: PendingReplies;
  assertConnectionOpen(): void;
  checked(d: DestinationLike): Destination;
  classify(err: unknown): SwitchboardError;
  tracing: Tracing;
  onClosed(): void;
}

const requestOptionKeys = new Set(['timeoutMs', 'headers', 'key', 'id', 'signal']);

function createProducer(ctx: ProducerContext): Producer {
  const { session, replies } = ctx;
  let closed = false;
  let closing: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const myRequests = new Set<string>();

  const assertOpen = () => {
    ctx.assertConnectionOpen();
    if (closed) throw closedError(`${ctx.backend} producer`);
  };

  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    p.then(
      () => inFlight.delete(p),
      () => inFlight.delete(p),
    );
    return p;
  };

  /**
   * Validation first, in one order for every backend; nothing reaches the broker before it passed.
   * The producer span starts once the messages are known, so its trace headers count against the
   * broker's size and header limits; a failed check ends it as failed.
   */
  const prepare = (d: DestinationLike, input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options: SendOptions, operation: 'send' | 'request') => {
    assertOpen();
    validateSendOptions(options);
    throwIfAborted(options.signal);
    const dest = ctx.checked(d);
    const messages = normalizeMessages(input, options);
    // A single message the broker names gets its id on the span once the broker confirmed it.
    const named = operation === 'send' && session.brokerNamesMessages === true && messages.length === 1 && idFromBroker(messages[0]!, options.confirm !== false);
    const span = ctx.tracing.send(dest, messages, operation, named);
    try {
      assertMessageSizes(messages, session.maxMessageBytes, session.limitName);
      if (messages.some((m) => (m.delayMs ?? 0) > 0)) requireCapability(session.capabilities, 'delayedSend');
      session.checkMessages?.(dest, messages);
    } catch (err) {
      span.end(err);
      throw err;
    }
    return { dest, messages, span, named };
  };

  const publish = async (dest: Destination, messages: NormalizedMessage[], options: SendOptions): Promise<SendReceipt[]> => {
    const confirm = options.confirm !== false;
    if (!confirm) requireCapability(session.capabilities, 'fireAndForget');
    let results: readonly Promise<string | undefined>[] | Promise<PublishOutcomes>;
    try {
      results = session.publish(dest, messages, { confirm, signal: options.signal });
    } catch (err) {
      throw withReceipts(ctx.classify(err), []);
    }
    if (!confirm) {
      if (isPerMessage(results)) for (const r of results) r.catch(() => undefined);
      else results.catch(() => undefined);
      return messages.map((m) => ({ id: m.id, destination: dest.name, confirmed: false }));
    }
    const named = session.brokerNamesMessages === true;
    const receiptOf = (m: NormalizedMessage, outcome: string | NamedOutcome | undefined): SendReceipt => {
      if (outcome === undefined) return { id: m.id, destination: dest.name, confirmed: false };
      const ref = typeof outcome === 'string' ? outcome : outcome.ref;
      const id = named && idFromBroker(m, true) ? (typeof outcome === 'string' ? outcome : outcome.id) : m.id;
      return { id, destination: dest.name, confirmed: true, brokerRef: ref };
    };
    if (!isPerMessage(results)) {
      let outcomes: PublishOutcomes;
      try {
        outcomes = await results;
      } catch (err) {
        throw withReceipts(ctx.classify(err), []);
      }
      return receiptsOf(dest, messages, outcomes, receiptOf, ctx.classify);
    }
    let refs: (string | undefined)[];
    try {
      // All of them first: no result object per message, as allSettled makes, on the common path.
      refs = await Promise.all(results);
    } catch {
      // Some failed: wait for the rest, so the error carries a receipt for each one that went through.
      const settled = await Promise.allSettled(results);
      const receipts: SendReceipt[] = [];
      let failure: unknown;
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') receipts.push(receiptOf(messages[i]!, s.value));
        else failure ??= s.reason;
      });
      throw withReceipts(ctx.classify(failure), receipts);
    }
    const receipts = new Array<SendReceipt>(refs.length);
    for (let i = 0; i < refs.length; i++) receipts[i] = receiptOf(messages[i]!, refs[i]);
    return receipts;
  };

  const producer = {
    async send(d: DestinationLike, input: OutgoingMessage | Body | readonly (OutgoingMessage | Body)[], options: SendOptions = {}) {
      const { dest, messages, span, named } = prepare(d, input, options, 'send');
      let receipts: SendReceipt[];
      try {
        receipts = await track(publish(dest, messages, options));
      } catch (err) {
        span.end(err);
        throw err;
      }
      span.end(undefined, undefined, named ? receipts[0]!.id : undefined);
      return Array.isArray(input) ? receipts : receipts[0]!;
    },

    async request(d: DestinationLike, message: OutgoingMessage | Body, options: RequestOptions = {}): Promise<Reply> {
      assertOpen();
      requireCapability(session.capabilities, 'requestResponse');
      if (options === null || typeof options !== 'object') throw new SwitchboardError('invalid_argument', 'request options must be an object');
      const unknown = Object.keys(options).filter((k) => !requestOptionKeys.has(k));
      if (unknown.length) throw new SwitchboardError('invalid_argument', `unknown request option${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
      const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
        throw new SwitchboardError('invalid_argument', `request timeoutMs must be a positive number of milliseconds (got ${String(options.timeoutMs)})`);
      }
      const sendOptions: SendOptions = {};
      if (options.headers !== undefined) sendOptions.headers = options.headers;
      if (options.key !== undefined) sendOptions.key = options.key;
      if (options.id !== undefined) sendOptions.id = options.id;
      const { dest, messages, span } = prepare(d, message, { ...sendOptions, ...(options.signal ? { signal: options.signal } : {}) }, 'request');
      if (!session.request) {
        const err = new SwitchboardError('unsupported', `${ctx.backend} has no request/response`);
        span.end(err);
        throw err;
      }
      const correlationId = newId();
      myRequests.add(correlationId);
      const waiting = replies.wait(correlationId, timeoutMs, options.signal, formatDestination(dest));
      session.request(dest, messages[0]!, { correlationId, timeoutMs, signal: options.signal }).catch((err: unknown) => {
        replies.reject(correlationId, ctx.classify(err));
      });
      waiting.then(
        (reply) => span.end(undefined, reply.headers),
        (err: unknown) => span.end(err),
      );
      return track(waiting.finally(() => myRequests.delete(correlationId)));
    },

    close() {
      closing ??= (async () => {
        closed = true;
        const err = closedError(`${ctx.backend} producer`);
        for (const id of [...myRequests]) replies.reject(id, err);
        await Promise.allSettled([...inFlight]);
        ctx.onClosed();
      })();
      return closing;
    },

    [Symbol.asyncDispose]() {
      return producer.close();
    },
  };
  return producer as Producer;
}

/** Whether a driver answered a send with one promise per message (else: one promise for the whole batch, {@link PublishOutcomes}). */
export const isPerMessage = (r: readonly Promise<string | undefined>[] | Promise<PublishOutcomes>): r is readonly Promise<string | undefined>[] => Array.isArray(r);

/**
 * The receipts of a batch the driver answered as a whole: one per message, or, when some failed,
 * the error of the first failure carrying the receipts of those that went through.
 */
function receiptsOf(
  dest: Destination,
  messages: readonly NormalizedMessage[],
  outcomes: PublishOutcomes,
  receiptOf: (m: NormalizedMessage, outcome: string | NamedOutcome | undefined) => SendReceipt,
  classify: (err: unknown) => SwitchboardError,
): SendReceipt[] {
  if (outcomes.length !== messages.length) {
    throw withReceipts(new SwitchboardError('internal', `the driver answered a batch of ${messages.length} sends to ${dest.kind}:${dest.name} with ${outcomes.length} outcomes`), []);
  }
  const receipts: SendReceipt[] = [];
  let failure: Error | undefined;
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    if (o instanceof Error) failure ??= o;
    else receipts.push(receiptOf(messages[i]!, o));
  }
  if (failure) throw withReceipts(classify(failure), receipts);
  return receipts;
}

function withReceipts(e: SwitchboardError, receipts: SendReceipt[]): SwitchboardError {
  return new SwitchboardError(e.code, e.message, { cause: e.cause ?? e, retryable: e.retryable, details: { ...e.details, receipts } });
}
