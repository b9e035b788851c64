import { retryAdmin } from './admin-retry';
import { connect as natsConnect, createInbox, credsAuthenticator, nanos, nkeyAuthenticator, type ConnectionOptions, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { formatHosts, SwitchboardError, throwIfAborted, type BrokerObject, type Destination, type DestinationOptions, type ParsedUrl } from '@switchboard/core';
import { createReply, shardOf, type ConnectOptions, type DriverHost, type DriverSession, type NormalizedMessage } from '@switchboard/core/driver';
import { createAckRequests, type AckRequests } from './ack-requests';
import { selectCapabilities } from './capabilities';
import { openCoreConsumer } from './core-consumer';
import { classifyError } from './errors';
import { openJetStreamConsumer } from './jetstream-consumer';
import { assertWireSize, buildHeaders, isPubAck, NATS_MSG_ID, parsePubAck, publishReply, readHeaders } from './messages';
import { assertCoreName, assertDurableFits, assertGroupName, assertJetStreamName, coreSubject, durableName, laneDurable, requestSubject, shardDurable, shardSubject, shardSubjectBase, streamNames, type StreamNames } from './names';
import { openPartitionedConsumer } from './partitioned-consumer';
import { createRequestListener, type RequestListener } from './request-listener';
import { watchStatus } from './status';
import { resolveNatsOptions, type ResolvedNatsOptions } from './options';

const API_STREAM_NAME_IN_USE = 10058;
/** Stream metadata key recording the connection's `partitions` (absent: unpartitioned). */
export const PARTITIONS_METADATA = 'switchboard-partitions';

/**
 * The stream subjects of a JetStream destination: its subject, and with `partitions` also the
 * shard subjects (`<subjectPrefix>.qp.<name>.*`); keyless messages keep the plain subject.
 */
export function streamSubjects(d: Destination, subject: string, subjectPrefix: string, partitions: number | undefined): string[] {
  return partitions === undefined ? [subject] : [subject, `${shardSubjectBase(d, subjectPrefix)}.*`];
}

/**
 * Where a JetStream message goes: without `partitions` the destination's subject; with them, a
 * keyed message to shard `shardOf(key, partitions)`, a keyless one to the destination's plain
 * subject (the keyless lane: no order to keep, so it is not serialized with any key).
 */
export function messageRouter(subjectPrefix: string, partitions: number | undefined, names: (d: Destination) => StreamNames): (d: Destination, key: string | undefined) => string {
  if (partitions === undefined) return (d) => names(d).subject;
  return (d, key) => (key === undefined ? names(d).subject : shardSubject(d, subjectPrefix, shardOf(key, partitions)));
}

/**
 * Refuses a stream made by a connection with another `partitions` than this one (its metadata
 * {@link PARTITIONS_METADATA} records N): its producers would route to other shards than its
 * consumers read. Returns the `configuration` error, or undefined when they agree.
 */
export function partitionsMismatch(d: Destination, stream: string, recorded: string | undefined, partitions: number | undefined): SwitchboardError | undefined {
  const mine = partitions === undefined ? undefined : String(partitions);
  if (recorded === mine) return undefined;
  const what = (n: string | undefined) => (n === undefined ? 'without partitions' : `with partitions=${n}`);
  return new SwitchboardError(
    'configuration',
    `nats: ${d.kind} "${d.name.slice(0, 200)}" (stream ${stream.slice(0, 200)}) was created ${what(recorded)}, this connection uses it ${what(mine)}; every producer and consumer of a destination must use the same partitions (delete the destination to change it)`,
    { details: { option: 'partitions', recorded: recorded ?? null, configured: partitions ?? null } },
  );
}
/** Confirmed JetStream publishes in flight per send; the next chunk starts when one is confirmed. */
const PUBLISH_CHUNK = 256;
const DEFAULT_PORT = 4222;

/** What the consumers of one session share with it. */
export interface NatsContext {
  readonly nc: NatsConnection;
  readonly options: ResolvedNatsOptions;
  readonly jsm: JetStreamManager | undefined;
  /** The stream and subject of a JetStream destination, computed once per destination ({@link nameCache}). */
  names(d: Destination): StreamNames;
  /** Confirmed settles of every JetStream consumer and JetStream publishes (PubAcks) of the connection: one reply subscription. */
  readonly acks: AckRequests;
  ensureStream(d: Destination, options?: DestinationOptions): Promise<void>;
  /** Publishes one message into a JetStream destination and waits for the PubAck; returns the stream sequence. */
  publishStored(d: Destination, m: NormalizedMessage, h: MsgHdrs, msgId?: string): Promise<number>;
  /**
   * {@link NatsContext.publishStored} for raw bytes and headers (`msgId` absent: no Nats-Msg-Id
   * dedup); `key` picks the shard of a partitioned destination (absent: round-robin). `existing`:
   * only into a stream that is there, without making it (`not_found` otherwise).
   */
  store(d: Destination, body: Uint8Array, h: MsgHdrs, msgId: string | undefined, key?: string, existing?: boolean): Promise<number>;
  /** Takes in NATS requests on JetStream destinations' request subjects for this connection's consumers. */
  readonly requests: RequestListener;
  readonly host: DriverHost;
  /**
   * Calls `fn` each time the client reconnected (open pull requests may be lost with the old
   * connection); returns the function that removes it.
   */
  onReconnect(fn: () => void): () => void;
  /** -NAKs sent to hold back a delayed message, by `stream:consumer:sequence` (they are not attempts). */
  readonly delayNaks: Map<string, number>;
}

/** The group of a topic's durable consumer named by {@link durableName} (`g_<encoded group>`), if it is one. */
export function groupOfDurable(d: Destination, durable: string): string | undefined {
  if (d.kind === 'queue' || !durable.startsWith('g_')) return undefined;
  const bytes: number[] = [];
  const s = durable.slice(2).replace(/_(p[0-9]+|u)$/, ''); // a shard's or the keyless lane's consumer (shardDurable, laneDurable)
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '_') {
      const n = parseInt(s.slice(i + 1, i + 3), 16);
      if (!/^[0-9A-F]{2}$/.test(s.slice(i + 1, i + 3))) return undefined;
      bytes.push(n);
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Destinations whose names are cached; past it the cache starts again (names are cheap to recompute). */
export const NAME_CACHE_SIZE = 10_000;

/**
 * {@link streamNames} per destination, computed once: the stream name encodes the destination name
 * byte by byte, and every publish and settle would otherwise do it again. Returns the same object
 * for the same destination until {@link NAME_CACHE_SIZE} destinations were seen.
 */
export function nameCache(streamPrefix: string, subjectPrefix: string): (d: Destination) => StreamNames {
  const byKind = { queue: new Map<string, StreamNames>(), topic: new Map<string, StreamNames>() };
  return (d) => {
    const m = byKind[d.kind];
    let n = m.get(d.name);
    if (n === undefined) {
      if (byKind.queue.size + byKind.topic.size >= NAME_CACHE_SIZE) {
        byKind.queue.clear();
        byKind.topic.clear();
      }
      n = streamNames(d, streamPrefix, subjectPrefix);
      m.set(d.name, n);
    }
    return n;
  };
}

/** Whether the URL gives a user (with or without password), a token, or an NKey / creds file. */
export function hasCredentials(parsed: ParsedUrl): boolean {
  return (parsed.username !== undefined && parsed.username !== '') || parsed.params.nkey !== undefined || parsed.params.creds !== undefined;
}

/**
 * The nats.js connect options of a connection. Without TLS options, `tls: null`: nats.js would
 * otherwise upgrade to TLS whenever the server merely offers it (`tls_available`, a server with
 * `allow_non_tls`) and then fail on a certificate it cannot verify (a private CA), so a plain
 * nats:// URL could not connect to such a server. With them, TLS is required.
 */
export function natsClientOptions(parsed: ParsedUrl, options: ResolvedNatsOptions, hostTimeoutMs: number): ConnectionOptions {
  const enc = new TextEncoder();
  const auth = options.auth
    ? { authenticator: options.auth.kind === 'nkey' ? nkeyAuthenticator(enc.encode(options.auth.seed)) : credsAuthenticator(enc.encode(options.auth.creds)) }
    : parsed.username !== undefined && parsed.password !== undefined
      ? { user: parsed.username, pass: parsed.password }
      : hasCredentials(parsed)
        ? { token: parsed.username }
        : {};
  return {
    servers: parsed.hosts.length ? formatHosts(parsed.hosts, DEFAULT_PORT) : [`127.0.0.1:${DEFAULT_PORT}`],
    name: options.name,
    timeout: Math.min(options.connectTimeoutMs, hostTimeoutMs),
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs,
    reconnectJitter: 50,
    waitOnFirstConnect: false,
    pingInterval: 10_000,
    // No client-side Error (stack capture) per request: JetStream publishes and API calls are
    // requests; their failures are still classified (SwitchboardError with the client's error as cause).
    noAsyncTraces: true,
    tls: options.tls ?? null,
    ...auth,
  };
}

/**
 * Opens the NATS half of a connection (core builds the Connection on it). `nats://` and
 * `nats+js://` use JetStream, `nats+core://` core NATS. Credentials come from the URL:
 * `user:password@host` or a token as `token@host`. Rejects with `configuration` (bad URL or
 * options, all problems listed), `auth` (credentials refused), `connection` (unreachable),
 * `unsupported` (JetStream mode on a server without JetStream).
 */
export async function openNatsSession(parsed: ParsedUrl, raw: ConnectOptions, host: DriverHost): Promise<DriverSession> {
  const options = resolveNatsOptions(parsed, raw);
  let nc: NatsConnection;
  try {
    nc = await natsConnect(natsClientOptions(parsed, options, host.connectTimeoutMs));
  } catch (err) {
    const e = classifyError(err);
    const code = e.code === 'auth' ? 'auth' : e.code === 'configuration' ? 'configuration' : 'connection';
    throw new SwitchboardError(code, `cannot connect to ${parsed.redacted}: ${e.message.replace(/^nats: /, '')}`, { cause: err });
  }
  let jsm: JetStreamManager | undefined;
  try {
    throwIfAborted(host.signal);
    if (options.mode === 'jetstream') {
      jsm = await jetstreamManager(nc, { timeout: options.apiTimeoutMs }).catch((err: unknown) => {
        const e = classifyError(err);
        if (e.code === 'auth') throw new SwitchboardError('auth', `JetStream at ${parsed.redacted}: ${e.message}`, { cause: err });
        throw new SwitchboardError('unsupported', `JetStream is not available at ${parsed.redacted} (${e.message}); use nats+core:// for core NATS`, { cause: err });
      });
    }
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
  return createSession(parsed, options, nc, jsm, host);
}

function createSession(parsed: ParsedUrl, options: ResolvedNatsOptions, nc: NatsConnection, jsm: JetStreamManager | undefined, host: DriverHost): DriverSession {
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  const streams = new Map<string, Promise<void>>();
  const names = nameCache(options.streamPrefix, options.subjectPrefix);
  const acks = createAckRequests(nc, options.apiTimeoutMs);
  const reconnectHooks = new Set<() => void>();

  const ensureStream = (d: Destination, o?: DestinationOptions): Promise<void> => {
    const { stream, subject } = names(d);
    let p = streams.get(stream);
    if (!p) {
      const retention = o?.retentionMs ?? options.retentionMs;
      const cfg: Partial<StreamConfig> & { name: string } = {
        name: stream,
        subjects: streamSubjects(d, subject, options.subjectPrefix, options.partitions),
        ...(options.partitions === undefined ? {} : { metadata: { [PARTITIONS_METADATA]: String(options.partitions) } }),
        retention: d.kind === 'queue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
        storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
        num_replicas: options.replicas,
        duplicate_window: nanos(options.duplicateWindowMs),
        discard: DiscardPolicy.Old,
        max_age: d.kind === 'topic' && retention ? nanos(retention) : 0,
        description: `switchboard ${d.kind} ${d.name}`.slice(0, 4096),
      };
      p = retryAdmin(() => jsm!.streams.add(cfg)).then(
        () => undefined,
        async (err: unknown) => {
          const code = (err as { apiError?: () => { err_code?: number } }).apiError?.().err_code;
          if (code !== API_STREAM_NAME_IN_USE) throw classifyError(err);
          // It exists with another config: made with the same partitions (or none on both sides)?
          const info = await retryAdmin(() => jsm!.streams.info(stream)).catch((e: unknown) => {
            throw classifyError(e);
          });
          const mismatch = partitionsMismatch(d, stream, info.config.metadata?.[PARTITIONS_METADATA], options.partitions);
          if (mismatch) throw mismatch;
        },
      );
      streams.set(stream, p);
      p.catch(() => streams.delete(stream));
    }
    return p;
  };

  const subjectOf = messageRouter(options.subjectPrefix, options.partitions, names);

  const store = async (d: Destination, body: Uint8Array, h: MsgHdrs, msgId: string | undefined, key?: string, existing = false): Promise<number> => {
    if (!existing) await ensureStream(d);
    // The header as nats.js's js.publish({ msgID }) sets it; sent as a request on the connection's
    // one reply subscription (see createAckRequests), not a nats.js request per message.
    if (msgId !== undefined) h.set(NATS_MSG_ID, msgId);
    const subject = subjectOf(d, key);
    const go = async () => parsePubAck(await acks.request(subject, body, h));
    try {
      return await go();
    } catch (err) {
      if (classifyError(err).code !== 'no_responders') throw err;
      if (existing) throw new SwitchboardError('not_found', `nats: no stream takes ${d.kind}:${d.name}`, { cause: err });
      // The stream went away (deleted behind our back): make it again, once.
      streams.delete(names(d).stream);
      await ensureStream(d);
      return await go();
    }
  };
  const publishStored = (d: Destination, m: NormalizedMessage, h: MsgHdrs, msgId: string = m.id) => store(d, m.body, h, msgId, m.key);

  const ctx: NatsContext = {
    nc,
    options,
    jsm,
    names,
    acks,
    ensureStream,
    publishStored,
    store,
    requests: createRequestListener(nc, options.subjectPrefix, store, host),
    host,
    delayNaks: new Map(),
    onReconnect: (fn) => {
      reconnectHooks.add(fn);
      return () => void reconnectHooks.delete(fn);
    },
  };
  const stopWatching = watchStatus(nc, host, parsed.redacted, () => {
    for (const fn of [...reconnectHooks]) fn();
  });

  // One reply inbox per connection, for both modes: `<inbox>.<correlation id>`. Core NATS answers a
  // request nobody subscribes to with a 503 status on it (no responders). A JetStream request that
  // gets one (nobody listens on its request subject) is stored in the stream instead, see request().
  const storeOnNoResponders = new Map<string, boolean>();
  let inbox: string | undefined;
  let replySub: Subscription | undefined;
  const replyAddress = (correlationId: string): string => {
    if (inbox === undefined) {
      const base = createInbox();
      replySub = nc.subscribe(`${base}.*`, {
        callback: (err, msg) => {
          if (err) return;
          const id = msg.subject.slice(base.length + 1);
          if (msg.headers?.code === 503 && msg.data.byteLength === 0) {
            if (storeOnNoResponders.has(id)) {
              storeOnNoResponders.set(id, true);
              return;
            }
            host.replies.reject(id, new SwitchboardError('no_responders', 'nats: no responders: nobody subscribes to the subject of the request'));
            return;
          }
          // A stream's PubAck is never a reply (it reaches an inbox only if someone sent a request
          // onto a stream's subject, which Switchboard does not: see requestSubject).
          if (isPubAck(msg.headers, msg.data)) return;
          const r = readHeaders(msg.headers);
          host.replies.resolve(r.correlationId ?? id, createReply(msg.data, r.user, r.correlationId ?? id));
        },
      });
      inbox = base;
    }
    return `${inbox}.${correlationId}`;
  };

  /** Builds every message's headers and checks its wire size before anything is sent. */
  const build = (messages: readonly NormalizedMessage[], withMsgId: boolean) =>
    messages.map((m, i) => {
      const h = buildHeaders(m, m.delayMs ? { notBefore: Date.now() + m.delayMs } : {}, withMsgId);
      assertWireSize(m, h, maxPayload, i);
      return { m, h };
    });

  return {
    url: parsed.redacted,
    capabilities: selectCapabilities(options.mode, hasCredentials(parsed), options.partitions),
    maxMessageBytes: maxPayload,
    limitName: 'the NATS server (max_payload)',
    checkDestination: (d) => (options.mode === 'core' ? assertCoreName(d, options.subjectPrefix) : assertJetStreamName(d, options.streamPrefix)),

    publish(dest, messages, { confirm, signal }) {
      if (options.mode === 'core') {
        const built = build(messages, false);
        const subject = coreSubject(dest, options.subjectPrefix);
        for (const { m, h } of built) nc.publish(subject, m.body, { headers: h });
        const flushed = confirm ? nc.flush().then(() => undefined) : Promise.resolve(undefined);
        return built.map(() => flushed);
      }
      const built = build(messages, true);
      if (!confirm) {
        const sent = ensureStream(dest).then(() => {
          for (const { m, h } of built) nc.publish(subjectOf(dest, m.key), m.body, { headers: h });
          return undefined;
        });
        return built.map(() => sent);
      }
      // Chunks of confirmed publishes; a failed chunk (or the signal) fails every message after it.
      const out: Promise<string>[] = [];
      let gate: Promise<unknown> = Promise.resolve();
      for (let i = 0; i < built.length; i += PUBLISH_CHUNK) {
        const start = gate.then(() => throwIfAborted(signal));
        const chunk = built.slice(i, i + PUBLISH_CHUNK).map(({ m, h }) => start.then(() => publishStored(dest, m, h)).then(String));
        gate = Promise.all(chunk);
        out.push(...chunk);
      }
      gate.catch(() => undefined);
      return out;
    },

    async request(dest, m, { correlationId }) {
      const replyTo = replyAddress(correlationId);
      if (options.mode === 'core') {
        const h = buildHeaders(m, { correlationId });
        assertWireSize(m, h, maxPayload, 0);
        nc.publish(coreSubject(dest, options.subjectPrefix), m.body, { headers: h, reply: replyTo });
        return;
      }
      // NATS's convention on the destination's request subject: a core publish with a reply
      // subject. Whoever listens there answers it: a connection with Switchboard consumers stores it
      // in the stream (RequestListener; delivered with the stream's semantics, answered on
      // sb-reply-to = the reply subject), a plain NATS responder answers the reply subject. Nobody
      // listening, or no stream for it (503 no responders): the request is stored in the stream
      // here, to wait for a consumer (mailbox request/response).
      const h = buildHeaders(m, { correlationId });
      assertWireSize(m, h, maxPayload, 0);
      storeOnNoResponders.set(correlationId, false);
      try {
        nc.publish(requestSubject(dest, options.subjectPrefix), m.body, { headers: h, reply: replyTo });
        await nc.flush(); // the server's 503 comes before its PONG
        if (!storeOnNoResponders.get(correlationId)) return;
      } catch (err) {
        throw classifyError(err);
      } finally {
        storeOnNoResponders.delete(correlationId);
      }
      const stored = buildHeaders(m, { replyTo, correlationId }, true);
      assertWireSize(m, stored, maxPayload, 0);
      await publishStored(dest, m, stored);
    },

    reply: (replyTo, correlationId, m) => publishReply(nc, replyTo, correlationId, m),

    async consumer(source, o) {
      if (!assertGroupName(o.group)) {
        throw new SwitchboardError('invalid_argument', `invalid group "${o.group.slice(0, 200)}": printable ASCII without whitespace or wildcards`);
      }
      if (options.mode === 'jetstream') assertDurableFits(source, o.group);
      if (options.mode === 'core') return openCoreConsumer(ctx, source, o);
      return options.partitions === undefined ? openJetStreamConsumer(ctx, source, o) : openPartitionedConsumer(ctx, source, o, options.partitions);
    },

    async ensureDestination(d, o) {
      if (options.mode === 'jetstream') await ensureStream(d, o);
    },

    async deleteGroup(d, group) {
      // A queue's members share one durable consumer whatever their group: it is the queue's, not a group's.
      if (options.mode === 'core' || d.kind === 'queue') return;
      const durable = durableName(d, group);
      const all = options.partitions === undefined ? [durable] : [...Array.from({ length: options.partitions }, (_, i) => shardDurable(durable, i)), laneDurable(durable)];
      for (const name of all) {
        try {
          await jsm!.consumers.delete(names(d).stream, name);
        } catch (err) {
          if (classifyError(err).code !== 'not_found') throw err;
        }
      }
    },

    async listObjects(d) {
      if (options.mode === 'core') return [];
      const { stream } = names(d);
      const objects: BrokerObject[] = [];
      try {
        await jsm!.streams.info(stream);
      } catch (err) {
        if (classifyError(err).code === 'not_found') return objects;
        throw err;
      }
      objects.push({ type: 'stream', name: stream });
      for await (const c of jsm!.consumers.list(stream)) {
        const name = c.config.durable_name ?? c.name;
        const group = groupOfDurable(d, name);
        objects.push(group === undefined ? { type: 'consumer', name } : { type: 'consumer', name, group });
      }
      return objects;
    },

    async deleteDestination(d) {
      if (options.mode === 'core') return;
      const { stream } = names(d);
      streams.delete(stream);
      try {
        await jsm!.streams.delete(stream);
      } catch (err) {
        if (classifyError(err).code !== 'not_found') throw err;
      }
    },

    classifyError,

    async close() {
      stopWatching();
      replySub?.unsubscribe();
      ctx.requests.close();
      try {
        await nc.drain(); // answers that arrive while draining still settle their requests
      } catch {
        await nc.close().catch(() => undefined);
      }
      acks.close();
    },
  };
}
