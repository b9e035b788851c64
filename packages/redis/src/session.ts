import { randomUUID } from 'node:crypto';
import { createClient, MultiErrorReply, RESP_TYPES, type RedisArgument } from '@redis/client';
import { SwitchboardError, type BrokerObject, type Destination, type ParsedUrl } from '@switchboard/core';
import { assertDestinationName, createReply, idFromBroker, messageSize, tlsFailure, type DriverConnectOptions, type DriverHost, type DriverSession, type NormalizedMessage, type PublishOutcomes } from '@switchboard/core/driver';
import { redisCapabilities } from './capabilities';
import { classifyError } from './classify-error';
import { openRedisConsumer } from './consumer';
import { decodeFields, encodeFields, keysOf, NAME, NAME_RULE, QUEUE_GROUP, streamKey, type Field } from './names';
import { resolveRedisOptions, type ResolvedRedisOptions } from './options';
import { MOVE_DELAYED } from './scripts';

const makeRedisClient = (o: Parameters<typeof createClient>[0]) => createClient({ ...o, RESP: 2 });
type Client = ReturnType<typeof makeRedisClient>;
const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

/** A connection that may block (XREADGROUP / XREAD BLOCK), with its CLIENT ID for CLIENT UNBLOCK. */
export interface BlockingClient {
  /** Its server-side client id; undefined while it reconnects. */
  readonly id: number | undefined;
  cmd<T>(args: readonly Field[]): Promise<T>;
  close(): Promise<void>;
}

/** What the consumer and reply parts share of a session. */
export interface RedisLink {
  readonly options: ResolvedRedisOptions;
  /** One command on the shared connection; bulk strings come back as Buffers. */
  cmd<T = unknown>(args: readonly Field[]): Promise<T>;
  /**
   * One command on the connection that carries acks: its own, opened on first use, so that an ack
   * does not wait behind the sends queued on the shared connection.
   */
  ackCmd<T = unknown>(args: readonly Field[]): Promise<T>;
  /** A connection of its own, for blocking reads. */
  blockingClient(): Promise<BlockingClient>;
  classify(err: unknown): SwitchboardError;
  report(err: SwitchboardError, message: string): void;
  /** Moves delayed sends that are due onto their streams. Never throws. */
  moveDelayed(): Promise<void>;
}

/**
 * One send of several messages to a stream goes to Redis as one transaction of at most this many
 * messages and about this many bytes (EXEC holds the server while it runs).
 */
const BATCH_MESSAGES = 256;
const BATCH_BYTES = 1024 * 1024;

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** node-redis takes strings and Buffers: a Uint8Array that is not a Buffer gets a Buffer view (no copy). */
const asArgs = (args: readonly Field[]) =>
  args.map((a) => (typeof a === 'string' || Buffer.isBuffer(a) ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength))) as RedisArgument[];

/**
 * Opens the Redis session: one command connection shared by producers and admin, one blocking
 * connection per consumer and one for this connection's reply stream (when it makes requests).
 * node-redis reconnects by itself; lost and regained connections are reported through the host.
 */
export async function openRedisSession(url: ParsedUrl, raw: DriverConnectOptions, host: DriverHost): Promise<DriverSession> {
  const options = resolveRedisOptions(url, raw);
  const clients = new Set<Client>();
  let closed = false;

  const makeClient = async (role: string): Promise<Client> => {
    const h = url.hosts[0]!;
    let ready = false;
    const client = makeRedisClient({
      socket: {
        host: h.host,
        port: h.port ?? 6379,
        ...(url.scheme === 'rediss' ? { ...options.tls, tls: true as const } : {}),
        connectTimeout: options.connectTimeoutMs,
        // Refused credentials and an untrusted certificate end the first connect (an `auth` or a
        // TLS `connection` error, not a hang); later losses retry for ever.
        reconnectStrategy: (_retries: number, cause: Error) =>
          closed ? false : !ready && (classifyError(cause).code === 'auth' || tlsFailure(cause, 'Redis')) ? cause : options.reconnectDelayMs,
      },
      ...(url.username !== undefined ? { username: url.username } : {}),
      ...(url.password !== undefined ? { password: url.password } : {}),
      ...(url.path && /^\d+$/.test(url.path) ? { database: Number(url.path) } : {}),
      // One name for every client of the connection: node-redis builds its command classes once per
      // distinct options (compared as JSON), and a name per role made each new client build them
      // again (about 20 MB allocated and 20-60 ms per client, by heap sampling and timing).
      name: 'switchboard',
    });
    let lost = false;
    client.on('error', (err: unknown) => {
      if (closed || lost) return;
      lost = true;
      host.report({ origin: 'reconnect', error: classifyError(err), state: 'lost' }, `redis: lost the ${role} connection to ${url.redacted}; reconnecting`, 'warn');
    });
    client.on('ready', () => {
      ready = true;
      if (!lost) return;
      lost = false;
      host.report({ origin: 'reconnect', error: new SwitchboardError('connection', `redis: the ${role} connection to ${url.redacted} is back`), state: 'regained' }, `redis: reconnected to ${url.redacted}`, 'info');
    });
    const abort = () => client.destroy();
    host.signal.addEventListener('abort', abort, { once: true });
    try {
      await client.connect();
    } catch (err) {
      client.destroy();
      throw classifyError(err);
    } finally {
      host.signal.removeEventListener('abort', abort);
    }
    clients.add(client);
    return client;
  };

  const main = await makeClient('command');
  const cmd = <T>(args: readonly Field[]) => main.sendCommand(asArgs(args), BUFFERS) as Promise<T>;

  const blockingClient = async (role = 'consumer'): Promise<BlockingClient> => {
    const c = await makeClient(role);
    let id: number | undefined;
    const learnId = async () => {
      id = undefined;
      id = Number(await c.sendCommand(['CLIENT', 'ID']));
    };
    await learnId();
    c.on('ready', () => void learnId().catch(() => undefined));
    return {
      get id() {
        return id;
      },
      cmd: <T>(args: readonly Field[]) => c.sendCommand(asArgs(args), BUFFERS) as Promise<T>,
      close: async () => {
        clients.delete(c);
        c.destroy();
      },
    };
  };

  const delayedSet = `${options.prefix}:delayed`;
  const delayedHash = `${options.prefix}:delayed:`;
  const delayTimers = new Set<NodeJS.Timeout>();
  const moveDelayed = async () => {
    try {
      await cmd(['EVAL', MOVE_DELAYED, '1', delayedSet, String(Date.now()), '1000', delayedHash]);
    } catch (err) {
      if (!closed) host.report({ origin: 'background', error: classifyError(err) }, 'redis: moving delayed sends failed (the next sweep retries)');
    }
  };

  let acker: Promise<Client> | undefined;
  const ackCmd = <T>(args: readonly Field[]): Promise<T> => {
    acker ??= makeClient('acks').catch((err: unknown) => {
      acker = undefined;
      throw err;
    });
    return acker.then((c) => c.sendCommand(asArgs(args), BUFFERS) as Promise<T>);
  };

  const link: RedisLink = {
    options,
    cmd,
    ackCmd,
    blockingClient: () => blockingClient(),
    classify: classifyError,
    report: (err, message) => host.report({ origin: 'background', error: err }, message),
    moveDelayed,
  };

  // Replies: a stream of this connection's own, read by one blocking loop from the first request on.
  const inbox = `${options.prefix}:inbox:${randomUUID()}`;
  let replyReader: Promise<BlockingClient> | undefined;
  const readReplies = async (r: BlockingClient) => {
    let last = '0';
    while (!closed) {
      try {
        const reply = await r.cmd<[Buffer, [Buffer, Buffer[]][]][] | null>(['XREAD', 'BLOCK', String(options.blockMs), 'STREAMS', inbox, last]);
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          last = id.toString();
          const d = decodeFields(last, fields);
          if (d.correlationId !== undefined) host.replies.resolve(d.correlationId, createReply(d.body, d.headers, d.correlationId));
        }
      } catch (err) {
        if (closed) return;
        host.report({ origin: 'reply', error: classifyError(err) }, 'redis: reading replies failed; retrying');
        await new Promise((res) => setTimeout(res, 250));
      }
    }
  };
  const replyAddress = async () => {
    replyReader ??= blockingClient('replies').then((r) => {
      void readReplies(r);
      return r;
    });
    await replyReader;
    return inbox;
  };

  // Topic retention: a topic's own (set by ensureDestination, kept in one hash for every process),
  // else the connection's option; looked up once per topic and session.
  const retentionKey = `${options.prefix}:retention`;
  const retention = new Map<string, number>();
  const retentionLookups = new Map<string, Promise<void>>();
  const lookUpRetention = (stream: string): Promise<void> => {
    let p = retentionLookups.get(stream);
    if (!p) {
      p = cmd<Buffer | null>(['HGET', retentionKey, stream]).then(
        (v) => void retention.set(stream, v ? Number(v) : (options.retentionMs ?? 0)),
        (err: unknown) => {
          retentionLookups.delete(stream);
          throw err;
        },
      );
      retentionLookups.set(stream, p);
    }
    return p;
  };
  /**
   * The MINID a send to `stream` trims below: for a topic with a retention, now minus that
   * retention; '' for none (a queue, a topic without one); undefined while the topic's retention is
   * not known yet ({@link lookUpRetention} first).
   */
  const trimBelow = (d: Destination, stream: string): string | undefined => {
    if (d.kind === 'queue') return '';
    const ms = retention.get(stream);
    if (ms === undefined) return undefined;
    return ms > 0 ? String(Math.max(0, Date.now() - ms)) : '';
  };
  /** XADD to `stream`; on a topic with a retention it also trims entries older than that (MINID ~). */
  const xadd = (d: Destination, stream: string, fields: Field[]): Promise<string> => {
    const minId = trimBelow(d, stream);
    if (minId === undefined) return lookUpRetention(stream).then(() => xadd(d, stream, fields));
    const trim = minId ? ['MINID', '~', minId] : [];
    return cmd<Buffer>(['XADD', stream, ...trim, '*', ...fields]).then(String);
  };

  /**
   * `batch` (each message's fields) to `stream` as one transaction: MULTI, one XADD per message
   * (with the trim a single send makes), EXEC. One round trip; each message's entry id, or the
   * error Redis gave its XADD alone.
   */
  const addBatch = (d: Destination, stream: string, batch: readonly Field[][]): Promise<PublishOutcomes> => {
    const minId = trimBelow(d, stream);
    if (minId === undefined) return lookUpRetention(stream).then(() => addBatch(d, stream, batch));
    const head: Field[] = minId ? ['XADD', stream, 'MINID', '~', minId, '*'] : ['XADD', stream, '*'];
    const tx = main.multi();
    for (const fields of batch) tx.addCommand(asArgs(head.concat(fields)));
    return tx.exec().then(
      (ids) => ids.map(String),
      (err: unknown) => (err instanceof MultiErrorReply ? err.replies.map((r) => (r instanceof Error ? r : String(r))) : Promise.reject(err)),
    );
  };

  /**
   * Sends `messages` to `d` in order: consecutive plain messages in transactions of up to
   * {@link BATCH_MESSAGES} ({@link addBatch}), a lone one or a delayed one on its own. Answers with
   * one promise for the whole send (core's batch form): no promise per message.
   */
  const publishAll = (d: Destination, messages: readonly NormalizedMessage[], confirm: boolean): Promise<PublishOutcomes> => {
    const stream = streamKey(options.prefix, d);
    const parts: Promise<PublishOutcomes>[] = [];
    const alone = (sent: Promise<string>) => parts.push(sent.then((id) => [id], (err: unknown) => [asError(err)]));
    let batch: Field[][] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 1) alone(xadd(d, stream, batch[0]!));
      else if (batch.length > 1) {
        const n = batch.length;
        parts.push(addBatch(d, stream, batch).catch((err: unknown) => new Array<Error>(n).fill(asError(err))));
      }
      batch = [];
      bytes = 0;
    };
    for (const m of messages) {
      if (m.delayMs) {
        flush();
        alone(publishOne(d, m));
        continue;
      }
      // A generated id of a confirmed send stays off the wire: the entry id names the message.
      const fields = encodeFields(m, undefined, m.headers, !idFromBroker(m, confirm));
      const size = messageSize(m);
      if (batch.length > 0 && (batch.length >= BATCH_MESSAGES || bytes + size > BATCH_BYTES)) flush();
      batch.push(fields);
      bytes += size;
    }
    flush();
    return parts.length === 1 ? parts[0]! : Promise.all(parts).then((each) => each.flat());
  };

  const publishOne = (d: Destination, m: NormalizedMessage, extra?: { replyTo: string; correlationId: string }): Promise<string> => {
    const stream = streamKey(options.prefix, d);
    const fields = encodeFields(m, extra);
    if (!m.delayMs) return xadd(d, stream, fields);
    const key = randomUUID();
    const due = Date.now() + m.delayMs;
    const t = setTimeout(() => {
      delayTimers.delete(t);
      void moveDelayed();
    }, m.delayMs);
    t.unref();
    delayTimers.add(t);
    return main
      .multi()
      .addCommand(asArgs(['HSET', delayedHash + key, ...fields]))
      .addCommand(['ZADD', delayedSet, String(due), `${stream}\n${key}`])
      .exec()
      .then(() => `delayed:${key}`);
  };

  const groupsOf = async (stream: string): Promise<string[]> => {
    try {
      const rows = await cmd<Buffer[][]>(['XINFO', 'GROUPS', stream]);
      return rows.map((row) => String(row[1]));
    } catch (err) {
      if (classifyError(err).code === 'not_found') return [];
      throw err;
    }
  };

  return {
    url: url.redacted,
    capabilities: redisCapabilities,
    maxMessageBytes: options.maxMessageBytes,
    limitName: 'Redis (maxMessageBytes)',
    checkDestination: (d) => assertDestinationName(d, NAME, 200, NAME_RULE),
    brokerNamesMessages: true,
    publish: (d, messages, o) => publishAll(d, messages, o.confirm),
    request: async (d, m, meta) => {
      await publishOne(d, m, { replyTo: await replyAddress(), correlationId: meta.correlationId });
    },
    reply: async (replyTo, correlationId, m) => {
      await main
        .multi()
        .addCommand(asArgs(['XADD', replyTo, '*', ...encodeFields(m, correlationId === undefined ? undefined : { correlationId })]))
        .addCommand(['PEXPIRE', replyTo, String(options.replyTtlMs)])
        .exec();
    },
    consumer: (source, o) => openRedisConsumer(link, source, o),
    ensureDestination: async (d, o) => {
      const k = keysOf(options.prefix, d, QUEUE_GROUP);
      // MKSTREAM needs a group: a queue gets its shared one; a topic's stream keeps none.
      const group = d.kind === 'queue' ? QUEUE_GROUP : `${options.prefix}-ensure-${randomUUID()}`;
      try {
        await cmd(['XGROUP', 'CREATE', k.stream, group, '0', 'MKSTREAM']);
      } catch (err) {
        if (!/BUSYGROUP/.test(String((err as Error).message))) throw err;
      }
      if (d.kind === 'topic') await cmd(['XGROUP', 'DESTROY', k.stream, group]);
      if (d.kind === 'topic' && o?.retentionMs !== undefined) {
        await cmd(['HSET', retentionKey, k.stream, String(o.retentionMs)]);
        retention.set(k.stream, o.retentionMs);
        await cmd(['XTRIM', k.stream, 'MINID', '~', String(Math.max(0, Date.now() - o.retentionMs))]);
      }
    },
    deleteDestination: async (d) => {
      const stream = streamKey(options.prefix, d);
      const groups = await groupsOf(stream);
      await cmd(['DEL', stream, ...groups.flatMap((g) => [keysOf(options.prefix, d, g).due, keysOf(options.prefix, d, g).from])]);
      if (d.kind === 'topic') {
        await cmd(['HDEL', retentionKey, stream]);
        retention.delete(stream);
        retentionLookups.delete(stream);
      }
    },
    deleteGroup: async (d, group) => {
      if (d.kind === 'queue') return; // one shared group, which the queue's deletion removes
      const k = keysOf(options.prefix, d, group);
      if ((await groupsOf(k.stream)).includes(group)) await cmd(['XGROUP', 'DESTROY', k.stream, group]);
      await cmd(['DEL', k.due, k.from]);
    },
    listObjects: async (d) => {
      const stream = streamKey(options.prefix, d);
      if (Number(await cmd(['EXISTS', stream])) === 0) return [];
      const out: BrokerObject[] = [{ type: 'stream', name: stream }];
      for (const g of await groupsOf(stream)) {
        out.push({ type: 'consumer group', name: g, group: g });
        const { due, from } = keysOf(options.prefix, d, g);
        if (Number(await cmd(['EXISTS', due])) === 1) out.push({ type: 'sorted set', name: due, group: g });
        if (Number(await cmd(['EXISTS', from])) === 1) out.push({ type: 'hash', name: from, group: g });
      }
      return out;
    },
    classifyError,
    close: async () => {
      for (const t of delayTimers) clearTimeout(t);
      if (replyReader) await cmd(['DEL', inbox]).catch(() => undefined);
      closed = true;
      await Promise.allSettled([...clients].map(async (c) => c.destroy()));
      clients.clear();
    },
  };
}
