// The IX cases' foreign side for Redis Streams: @redis/client alone, never Switchboard, working on
// the keys the adapter uses, in the wire format packages/redis/README.md ("Wire format") documents:
// - queue `q`: the stream `sb:q:q`, read through its one consumer group `sb` (XREADGROUP, XACK, XDEL);
// - topic `t`: the stream `sb:t:t`; a reader reads it from its last entry on (XREAD);
// - one entry per message: field `body` (bytes), `sb-id`, `sb-key`, `h:<name>` per header;
// - request/reply: `sb-reply-to` (a stream key) + `sb-correlation-id`; the reply is an XADD to that stream.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient, RESP_TYPES } from '@redis/client';
import type { Destination } from '@switchboard/core';
import type { ForeignClient, ForeignMessage, ForeignSide } from '@switchboard/conformance';

const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;
type Entry = [Buffer, Buffer[]];
type ReadReply = [Buffer, Entry[]][] | null;

/** A node-redis client as its users make one: the URL without the adapter's query, and for rediss:// the CA of `?ca=<PEM file>`. */
const newClient = (url: string) => {
  const ca = new URL(url).searchParams.get('ca');
  return createClient({ url: url.split('?')[0], RESP: 2, ...(ca ? { socket: { tls: true as const, ca: readFileSync(ca, 'utf8') } } : {}) });
};
type Client = ReturnType<typeof newClient>;

const keyOf = (d: Destination) => `sb:${d.kind === 'queue' ? 'q' : 't'}:${d.name}`;

function toForeign(fields: Buffer[]): ForeignMessage & { replyTo?: string; correlationId?: string } {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!.toString(), fields[i + 1]!);
  const headers: Record<string, string> = {};
  for (const [k, v] of f) if (k.startsWith('h:')) headers[k.slice(2)] = v.toString();
  return {
    body: new Uint8Array(f.get('body') ?? Buffer.alloc(0)),
    key: f.get('sb-key')?.toString(),
    headers,
    id: f.get('sb-id')?.toString(),
    replyTo: f.get('sb-reply-to')?.toString(),
    correlationId: f.get('sb-correlation-id')?.toString(),
  };
}

async function open(url: string): Promise<ForeignClient> {
  const clients: Client[] = [];
  const client = async () => {
    const c = newClient(url);
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  };
  const main = await client();
  const cmd = <T>(c: Client, args: (string | Buffer)[]) => c.sendCommand(args, BUFFERS) as Promise<T>;

  /**
   * Reads what arrives at `dest` from now on and hands each entry to `each` until it returns false:
   * a queue as a member of its group (acked and deleted), a topic from its last entry on.
   */
  const reader = async (dest: Destination, each: (fields: Buffer[]) => boolean | Promise<boolean>) => {
    const c = await client();
    const key = keyOf(dest);
    let last = '$';
    const member = `foreign-${randomUUID()}`;
    if (dest.kind === 'queue') {
      await cmd(c, ['XGROUP', 'CREATE', key, 'sb', '0', 'MKSTREAM']).catch((e: Error) => {
        if (!/BUSYGROUP/.test(e.message)) throw e;
      });
    } else {
      const top = await cmd<Entry[]>(c, ['XREVRANGE', key, '+', '-', 'COUNT', '1']);
      last = top[0] ? top[0][0].toString() : '0';
    }
    let stop = false;
    const done = (async () => {
      while (!stop) {
        const reply = dest.kind === 'queue'
          ? await cmd<ReadReply>(c, ['XREADGROUP', 'GROUP', 'sb', member, 'COUNT', '10', 'BLOCK', '500', 'STREAMS', key, '>'])
          : await cmd<ReadReply>(c, ['XREAD', 'COUNT', '10', 'BLOCK', '500', 'STREAMS', key, last]);
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          last = id.toString();
          if (dest.kind === 'queue') {
            await cmd(main, ['XACK', key, 'sb', last]);
            await cmd(main, ['XDEL', key, last]);
          }
          if (!(await each(fields))) stop = true;
        }
      }
    })().finally(async () => {
      if (dest.kind === 'queue') await cmd(main, ['XGROUP', 'DELCONSUMER', key, 'sb', member]).catch(() => undefined);
      c.destroy();
    });
    done.catch(() => undefined);
    return { close: async () => { stop = true; await done.catch(() => undefined); } };
  };

  return {
    async publish(dest, m) {
      const fields: (string | Buffer)[] = ['body', Buffer.from(m.body)];
      if (m.id !== undefined) fields.push('sb-id', m.id);
      if (m.key !== undefined) fields.push('sb-key', m.key);
      for (const [k, v] of Object.entries(m.headers ?? {})) fields.push(`h:${k}`, v);
      await cmd(main, ['XADD', keyOf(dest), '*', ...fields]);
    },

    async receive(dest, n, timeoutMs) {
      const got: ForeignMessage[] = [];
      let done!: (m: ForeignMessage[]) => void;
      let fail!: (e: Error) => void;
      const messages = new Promise<ForeignMessage[]>((resolve, reject) => ((done = resolve), (fail = reject)));
      const r = await reader(dest, (fields) => {
        const { replyTo: _r, correlationId: _c, ...m } = toForeign(fields);
        got.push(m);
        if (got.length === n) done(got);
        return got.length < n;
      });
      const timer = setTimeout(() => fail(new Error(`the foreign reader got ${got.length} of ${n} messages within ${timeoutMs} ms`)), timeoutMs);
      messages.finally(() => {
        clearTimeout(timer);
        return r.close();
      }).catch(() => undefined);
      return { ready: Promise.resolve(), messages };
    },

    async respond(dest, answer) {
      return reader(dest, async (fields) => {
        const m = toForeign(fields);
        if (m.replyTo !== undefined) {
          const reply: (string | Buffer)[] = ['body', Buffer.from(answer(m))];
          if (m.correlationId !== undefined) reply.push('sb-correlation-id', m.correlationId);
          await cmd(main, ['XADD', m.replyTo, '*', ...reply]);
          await cmd(main, ['PEXPIRE', m.replyTo, '60000']);
        }
        return true;
      });
    },

    async request(dest, body, timeoutMs) {
      const inbox = `foreign:inbox:${randomUUID()}`;
      const correlationId = randomUUID();
      const c = await client();
      try {
        await cmd(main, ['XADD', keyOf(dest), '*', 'body', body, 'sb-reply-to', inbox, 'sb-correlation-id', correlationId]);
        const deadline = Date.now() + timeoutMs;
        let last = '0';
        while (Date.now() < deadline) {
          const reply = await cmd<ReadReply>(c, ['XREAD', 'BLOCK', String(Math.max(1, Math.min(500, deadline - Date.now()))), 'STREAMS', inbox, last]);
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            last = id.toString();
            const m = toForeign(fields);
            if (m.correlationId === correlationId) return m;
          }
        }
        throw new Error(`no reply within ${timeoutMs} ms`);
      } finally {
        await cmd(main, ['DEL', inbox]).catch(() => undefined);
        c.destroy();
      }
    },

    async listObjects() {
      const keys: string[] = [];
      for await (const batch of main.scanIterator({ MATCH: 'sb:*', COUNT: 1000 })) keys.push(...batch.map(String));
      return keys;
    },

    async close() {
      for (const c of clients) c.destroy();
    },
  };
}

/** @redis/client as the other side of Switchboard's Redis adapter. */
export const redisForeign: ForeignSide = {
  open,
  typedHeaders: { reason: 'stream entry fields are byte strings: Redis has no typed values' },
  nativeRequestReply: true,
  stableIds: true,
};
