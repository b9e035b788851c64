// The conformance catalogue against RabbitMQ with per-key order (?partitions=4): every queue and topic
// group is four shard queues with single active consumer plus a plain queue for messages without a key
// (packages/rabbitmq/README.md, "Per-key order (partitions)"). The IX cases' foreign side is amqplib
// routing by that README's wire format, written here from the README, not from the adapter.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { parseUrl, type Destination, type Headers } from '@switchboard/core';
import type { ForeignClient, ForeignMessage, ForeignSide } from '@switchboard/conformance';
import { driver, rabbitCapabilitiesFor, resolveRabbitOptions } from '@switchboard/rabbitmq';
import { conformanceAgainst } from './define';
import { rabbitForeign } from './foreign/rabbitmq';

const PARTITIONS = 4;

/** FNV-1a, 32 bit (offset basis 0x811c9dc5, prime 0x01000193), of the key's UTF-8 bytes: the README's routing hash. */
function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** `<shard>` of the README: the key's shard number, or `any` without a key. */
const shardOf = (key: string | undefined): string => (key === undefined ? 'any' : String(fnv1a(key) % PARTITIONS));
/** The queue of one shard of queue `q`: `q@@shard.<i>`, or `q@@any`. */
const shardQueue = (q: string, shard: string) => (shard === 'any' ? `${q}@@any` : `${q}@@shard.${shard}`);
/** Every queue a reader of queue `q` consumes. */
const allShards = (q: string) => [...Array.from({ length: PARTITIONS }, (_, i) => shardQueue(q, String(i))), shardQueue(q, 'any')];

const INTERNAL = new Set(['sb-key', 'sb-message-id', 'sb-ts', 'sb-attempt', 'sb-shard']);

function toForeign(msg: amqp.Message): ForeignMessage {
  const raw = (msg.properties.headers ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (!INTERNAL.has(k) && typeof v === 'string') headers[k] = v;
  const key = typeof raw['sb-key'] === 'string' ? raw['sb-key'] : undefined;
  const id = typeof msg.properties.messageId === 'string' ? msg.properties.messageId : undefined;
  return { body: new Uint8Array(msg.content), key, headers, id };
}

/** Where a foreign publisher sends a message with `key`: the key's shard queue, or the topic's exchange with `sb-shard`. */
function route(dest: Destination, key: string | undefined): { exchange: string; routingKey: string; headers: Record<string, string> } {
  const shard = shardOf(key);
  const headers: Record<string, string> = key === undefined ? {} : { 'sb-key': key };
  if (dest.kind === 'queue') return { exchange: '', routingKey: shardQueue(dest.name, shard), headers };
  return { exchange: dest.name, routingKey: '', headers: { ...headers, 'sb-shard': shard } };
}

async function open(url: string): Promise<ForeignClient> {
  const u = new URL(url);
  u.search = '';
  const conn = await amqp.connect(u.toString());
  conn.on('error', () => undefined);
  const base = await rabbitForeign.open(url);
  const pub = await conn.createConfirmChannel();
  pub.on('error', () => undefined);
  const closers: (() => Promise<void>)[] = [];

  /** Consumes every queue a reader of `dest` reads: a queue's shards, or (a topic) an exclusive queue bound to it. */
  const consumeAll = async (ch: amqp.Channel, dest: Destination, onMessage: (msg: amqp.ConsumeMessage) => void): Promise<void> => {
    const queues: string[] = [];
    if (dest.kind === 'queue') queues.push(...allShards(dest.name));
    else {
      const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.bindQueue(q.queue, dest.name, '', { 'x-match': 'all' });
      queues.push(q.queue);
    }
    for (const q of queues) await ch.consume(q, (msg) => msg && onMessage(msg));
  };

  return {
    async publish(dest, m) {
      const to = route(dest, m.key);
      await new Promise<void>((resolve, reject) =>
        pub.publish(to.exchange, to.routingKey, Buffer.from(m.body), { persistent: true, headers: { ...(m.headers ?? {}), ...to.headers }, ...(m.id === undefined ? {} : { messageId: m.id }) }, (err: unknown) =>
          err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
        ),
      );
    },

    async publishTyped(dest) {
      // Typed AMQP header values (as rabbitmq.test.ts's foreign side sends them), routed as a message without a key.
      const bytes = Buffer.from([0, 1, 0xff, 0xfe, 0x80, 0xc3, 0x28]);
      const typed: Record<string, unknown> = {
        decimal: { '!': 'decimal', value: { places: 1, digits: 15 } },
        bytes,
        void: null,
        long: 2 ** 40,
        float: { '!': 'float', value: 1.5 },
        bool: true,
        timestamp: { '!': 'timestamp', value: 1_700_000_000 },
        table: { a: 1, c: { '!': 'decimal', value: { places: 2, digits: 5 } }, d: null },
        array: [1, 'two', Buffer.from([0xff])],
      };
      const expected: Headers = {
        decimal: '1.5',
        bytes: `base64:${bytes.toString('base64')}`,
        void: '',
        long: '1099511627776',
        float: '1.5',
        bool: 'true',
        timestamp: '1700000000',
        table: '{"a":1,"c":"0.05","d":null}',
        array: '[1,"two","base64:/w=="]',
      };
      const to = route(dest, undefined);
      await new Promise<void>((resolve, reject) =>
        pub.publish(to.exchange, to.routingKey, Buffer.from('typed'), { persistent: true, headers: { ...typed, ...to.headers } }, (err: unknown) =>
          err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
        ),
      );
      return { expected };
    },

    async receive(dest, n, timeoutMs) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const got: ForeignMessage[] = [];
      let done!: (m: ForeignMessage[]) => void;
      let fail!: (e: Error) => void;
      const messages = new Promise<ForeignMessage[]>((resolve, reject) => ((done = resolve), (fail = reject)));
      const ready = consumeAll(ch, dest, (msg) => {
        ch.ack(msg);
        got.push(toForeign(msg));
        if (got.length === n) done(got);
      });
      ready.catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
      const timer = setTimeout(() => fail(new Error(`the foreign reader got ${got.length} of ${n} messages within ${timeoutMs} ms`)), timeoutMs);
      const closing = messages.finally(() => {
        clearTimeout(timer);
        return ch.close().catch(() => undefined);
      });
      closing.catch(() => undefined);
      return { ready, messages };
    },

    async respond(dest, answer) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await consumeAll(ch, dest, (msg) => {
        const { replyTo, correlationId } = msg.properties;
        if (typeof replyTo === 'string') ch.sendToQueue(replyTo, Buffer.from(answer(toForeign(msg))), correlationId === undefined ? {} : { correlationId });
        ch.ack(msg);
      });
      const close = () => ch.close().catch(() => undefined);
      closers.push(close);
      return { close };
    },

    async request(dest, body, timeoutMs) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const correlationId = randomUUID();
      try {
        return await new Promise<ForeignMessage>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
          void ch
            .consume('amq.rabbitmq.reply-to', (msg) => {
              if (msg && msg.properties.correlationId === correlationId) {
                clearTimeout(timer);
                resolve(toForeign(msg));
              }
            }, { noAck: true })
            .then(() => {
              const to = route(dest, undefined);
              ch.publish(to.exchange, to.routingKey, Buffer.from(body), { headers: to.headers, replyTo: 'amq.rabbitmq.reply-to', correlationId, expiration: String(timeoutMs) });
            }, reject);
        });
      } finally {
        await ch.close().catch(() => undefined);
      }
    },

    listObjects: () => base.listObjects(),

    async close() {
      for (const c of closers) await c();
      await conn.close().catch(() => undefined);
      await base.close();
    },
  };
}

/** amqplib routing by the partitioned wire format. */
const partitionedForeign: ForeignSide = {
  open,
  typedHeaders: true,
  nativeRequestReply: true,
  stableIds: rabbitForeign.stableIds,
};

conformanceAgainst({
  broker: 'rabbitmq',
  name: `rabbitmq (partitions=${PARTITIONS})`,
  driver,
  packageDir: path.join(__dirname, '../../packages/rabbitmq'),
  capabilitiesFor: (url) => rabbitCapabilitiesFor(resolveRabbitOptions(parseUrl(url)).options),
  foreign: partitionedForeign,
  // L1 runs at full size on the plain file; keyless messages take the competing lane here (20,000).
  loadCount: 20_000,
  variant: (url) => (/[?&]partitions=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}partitions=${PARTITIONS}`),
});
