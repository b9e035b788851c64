// The IX cases' foreign side for RabbitMQ: amqplib alone, never Switchboard, working on the broker
// objects the adapter uses, in the wire format packages/rabbitmq/README.md ("Wire format") documents:
// - queue `q`: the durable queue `q`, published through the default exchange with routing key `q`;
// - topic `t`: the headers exchange `t` (routing key ignored); a reader binds a queue of its own;
// - id: the `message_id` property; key: the `sb-key` header (a string); headers: an AMQP field table;
// - request/reply: `reply_to` + `correlation_id` (a requester uses direct reply-to).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { parseUrl, type Destination, type Headers } from '@switchboard/core';
import type { ForeignClient, ForeignMessage, ForeignSide } from '@switchboard/conformance';
import { BROKERS_SCRIPT } from '../../harness/broker-control';

const run = promisify(execFile);

/** Headers the adapter writes for itself (key, long ids, send time, attempt): not the application's. */
const INTERNAL = new Set(['sb-key', 'sb-message-id', 'sb-ts', 'sb-attempt', 'sb-shard']);

/** Bytes that are not valid UTF-8 (a lossy text conversion shows). */
const RAW_BYTES = Buffer.from([0, 1, 0xff, 0xfe, 0x80, 0xc3, 0x28]);

/**
 * The AMQP URL amqplib takes: the first host of the URL (amqplib connects to one; a cluster's URL
 * lists several), without Switchboard's query options (amqplib reads some query parameters itself).
 */
function amqpUrl(url: string): string {
  const u = parseUrl(url);
  const h = u.hosts[0]!;
  const auth = u.username === undefined ? '' : `${encodeURIComponent(u.username)}${u.password === undefined ? '' : `:${encodeURIComponent(u.password)}`}@`;
  return `${u.scheme}://${auth}${h.host}:${h.port ?? (u.scheme === 'amqps' ? 5671 : 5672)}${u.path === '' ? '' : `/${encodeURIComponent(u.path)}`}`;
}

function toForeign(msg: amqp.Message): ForeignMessage {
  const raw = (msg.properties.headers ?? {}) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (!INTERNAL.has(k) && typeof v === 'string') headers[k] = v;
  const key = typeof raw['sb-key'] === 'string' ? raw['sb-key'] : undefined;
  const id = typeof msg.properties.messageId === 'string' ? msg.properties.messageId : typeof raw['sb-message-id'] === 'string' ? raw['sb-message-id'] : undefined;
  return { body: new Uint8Array(msg.content), key, headers, id };
}

/** How a foreign client finds the adapter's broker objects: plain, or by the partitioned wire format. */
export interface RabbitRouting {
  /** Where a message of `dest` with `key` goes, and the headers that route it (beside the application's). */
  target(dest: Destination, key: string | undefined): { exchange: string; routingKey: string; headers: Record<string, string> };
  /** The queues a reader of queue `q` consumes. */
  queuesOf(q: string): string[];
}

/** Plain routing: the default exchange to the queue, or the topic's headers exchange; the key in `sb-key`. */
const plainRouting: RabbitRouting = {
  target: (dest, key) => ({
    ...(dest.kind === 'queue' ? { exchange: '', routingKey: dest.name } : { exchange: dest.name, routingKey: '' }),
    headers: key === undefined ? ({} as Record<string, string>) : { 'sb-key': key },
  }),
  queuesOf: (q) => [q],
};

async function open(url: string, routing: RabbitRouting, rabbitmqctl: readonly string[]): Promise<ForeignClient> {
  // amqps with a private CA (?ca=<PEM file>): amqplib's socket options, as an amqplib user passes them.
  const ca = parseUrl(url).params.ca;
  const conn = await amqp.connect(amqpUrl(url), ca ? { ca: [readFileSync(ca)] } : {});
  let failure: Error | undefined;
  conn.on('error', (err: Error) => {
    failure = err;
  });
  const pub = await conn.createConfirmChannel();
  pub.on('error', () => undefined);
  const closers: (() => Promise<void>)[] = [];

  /** A publish that resolves on the broker's confirm, and fails when the connection or channel dies first. */
  const confirmed = (dest: Destination, key: string | undefined, content: Buffer, options: amqp.Options.Publish) =>
    new Promise<void>((resolve, reject) => {
      const t = routing.target(dest, key);
      options = { ...options, headers: { ...(options.headers as Record<string, unknown> | undefined), ...t.headers } };
      const onClose = () => reject(new Error(`the channel closed before the confirm: ${failure?.message ?? 'closed'}`));
      pub.once('close', onClose);
      pub.publish(t.exchange, t.routingKey, content, options, (err: unknown) => {
        pub.removeListener('close', onClose);
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      });
    });

  /** The queues holding what arrives at `dest` from now on: the queue's own, or an exclusive queue bound to the topic. */
  const sources = async (ch: amqp.Channel, dest: Destination): Promise<string[]> => {
    if (dest.kind === 'queue') {
      const queues = routing.queuesOf(dest.name);
      for (const q of queues) await ch.checkQueue(q);
      return queues;
    }
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    await ch.bindQueue(q.queue, dest.name, '', { 'x-match': 'all' });
    return [q.queue];
  };

  return {
    async publish(dest, m) {
      await confirmed(dest, m.key, Buffer.from(m.body), { persistent: true, headers: { ...(m.headers ?? {}) }, ...(m.id === undefined ? {} : { messageId: m.id }) });
    },

    async receive(dest, n, timeoutMs) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const got: ForeignMessage[] = [];
      let done!: (m: ForeignMessage[]) => void;
      let fail!: (e: Error) => void;
      const messages = new Promise<ForeignMessage[]>((resolve, reject) => ((done = resolve), (fail = reject)));
      const ready = (async () => {
        for (const q of await sources(ch, dest)) {
          await ch.consume(q, (msg) => {
            if (!msg) return;
            ch.ack(msg);
            got.push(toForeign(msg));
            if (got.length === n) done(got);
          });
        }
      })();
      ready.catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));
      const timer = setTimeout(() => fail(new Error(`the foreign reader got ${got.length} of ${n} messages within ${timeoutMs} ms`)), timeoutMs);
      const closing = messages.finally(() => {
        clearTimeout(timer);
        return ch.close().catch(() => undefined);
      });
      closing.catch(() => undefined);
      return { ready, messages };
    },

    async publishTyped(dest) {
      // Every AMQP 0-9-1 field type amqplib can send, and how the adapter documents each arrives.
      const headers: Record<string, unknown> = {
        plain: 'text',
        decimal: { '!': 'decimal', value: { places: 1, digits: 15 } },
        'decimal-scaled': { '!': 'decimal', value: { places: 3, digits: 1500 } },
        bytes: RAW_BYTES,
        void: null,
        int: 42,
        negative: -7,
        long: 2 ** 40,
        short: { '!': 'short', value: -300 },
        float: { '!': 'float', value: 1.5 },
        double: 2.25,
        bool: true,
        timestamp: { '!': 'timestamp', value: 1_700_000_000 },
        table: { a: 1, b: 'x', c: { '!': 'decimal', value: { places: 2, digits: 5 } }, d: null },
        array: [1, 'two', Buffer.from([0xff])],
      };
      const expected: Headers = {
        plain: 'text',
        decimal: '1.5',
        'decimal-scaled': '1.500',
        bytes: `base64:${RAW_BYTES.toString('base64')}`,
        void: '',
        int: '42',
        negative: '-7',
        long: '1099511627776',
        short: '-300',
        float: '1.5',
        double: '2.25',
        bool: 'true',
        timestamp: '1700000000',
        table: '{"a":1,"b":"x","c":"0.05","d":null}',
        array: '[1,"two","base64:/w=="]',
      };
      await confirmed(dest, undefined, Buffer.from('typed'), { persistent: true, headers });
      if (failure) throw failure;
      return { expected };
    },

    async respond(dest, answer) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const tags: string[] = [];
      for (const q of await sources(ch, dest)) {
        const { consumerTag } = await ch.consume(q, (msg) => {
          if (!msg) return;
          const { replyTo, correlationId } = msg.properties;
          if (typeof replyTo === 'string') ch.sendToQueue(replyTo, Buffer.from(answer(toForeign(msg))), correlationId === undefined ? {} : { correlationId });
          ch.ack(msg);
        });
        tags.push(consumerTag);
      }
      const close = async () => {
        for (const tag of tags) await ch.cancel(tag).catch(() => undefined);
        await ch.close().catch(() => undefined);
      };
      closers.push(close);
      return { close };
    },

    async request(dest, body, timeoutMs) {
      // Direct reply-to: consume amq.rabbitmq.reply-to (no ack) and publish on the same channel.
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      const correlationId = randomUUID();
      try {
        const reply = new Promise<ForeignMessage>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
          void ch
            .consume('amq.rabbitmq.reply-to', (msg) => {
              if (msg && msg.properties.correlationId === correlationId) {
                clearTimeout(timer);
                resolve(toForeign(msg));
              }
            }, { noAck: true })
            .then(() => {
              const t = routing.target(dest, undefined);
              ch.publish(t.exchange, t.routingKey, Buffer.from(body), { headers: t.headers, replyTo: 'amq.rabbitmq.reply-to', correlationId, expiration: String(timeoutMs) });
            }, reject);
        });
        return await reply;
      } finally {
        await ch.close().catch(() => undefined);
      }
    },

    async listObjects() {
      // AMQP 0-9-1 lists nothing: ask a node scripts/brokers runs (rabbitmqctl), queues and exchanges at once.
      const list = async (what: 'list_queues' | 'list_exchanges') => {
        const { stdout } = await run(BROKERS_SCRIPT, [...rabbitmqctl, what, '-q', '--no-table-headers', 'name'], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
        return stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      };
      const [queues, exchanges] = await Promise.all([list('list_queues'), list('list_exchanges')]);
      return [...queues.map((q) => `queue:${q}`), ...exchanges.map((x) => `exchange:${x}`)];
    },

    async close() {
      for (const c of closers) await c();
      await conn.close().catch(() => undefined);
    },
  };
}

/**
 * amqplib as the other side of Switchboard's RabbitMQ adapter, routing as `routing` says; IX6 lists
 * objects with `scripts/brokers <rabbitmqctl...>` (default the single node's `rabbitmqctl`; a cluster's
 * `cluster rabbitmqctl 1`).
 */
export const rabbitForeignWith = (routing: RabbitRouting, rabbitmqctl: readonly string[] = ['rabbitmqctl']): ForeignSide => ({ ...rabbitForeign, open: (url) => open(url, routing, rabbitmqctl) });

/** The foreign side on the three-node cluster of `scripts/brokers cluster`: objects listed by node 1. */
export const rabbitClusterForeign = (): ForeignSide => rabbitForeignWith(plainRouting, ['cluster', 'rabbitmqctl', '1']);

/** amqplib as the other side of Switchboard's RabbitMQ adapter. */
export const rabbitForeign: ForeignSide = {
  open: (url) => open(url, plainRouting, ['rabbitmqctl']),
  typedHeaders: true,
  nativeRequestReply: true,
  stableIds: {
    reason:
      'RabbitMQ stamps nothing on a message and delivery tags restart per channel: a message without message_id gets a random id per broker delivery ' +
      '(kept across the adapter\'s own retries, which republish it with that id), so a broker redelivery (a consumer that died) and each group of a topic see another id',
  },
};
