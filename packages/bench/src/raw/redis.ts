import { randomUUID } from 'node:crypto';
import { createClient, RESP_TYPES } from '@redis/client';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from '../workload';

const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;
const newClient = (url: string) => createClient({ url, RESP: 2 });
type Client = ReturnType<typeof newClient>;
type ReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/**
 * @redis/client doing the workload plainly, on the same keys and commands as the Switchboard queue:
 * one connection XADDs each message (field `body`) to the stream `sb:q:<destination>`, a batch
 * awaited as a whole; a second connection reads the group `sb` with XREADGROUP COUNT `prefetch`
 * BLOCK 1000 and acks the entries of each read with one XACK and one XDEL of all their ids on the
 * first connection, counting them once Redis replied to both: the guarantee of Switchboard's
 * `ack()`, which resolves once Redis confirmed it. The next read does not wait for those replies.
 * Switchboard's query parameters are dropped from the URL.
 */
export const rawRedis: TargetFactory = (url: string, params: BenchParams): BenchTarget => redisTarget(url, params, false);

/**
 * {@link rawRedis} with each entry carrying `sb-id` (a random UUID) after `body`: the bytes of a
 * Switchboard send of messages with ids of their own (or unconfirmed). The bench's Switchboard row
 * sends confirmed messages without ids, which are named by their entry id and carry `body` only,
 * as plain {@link rawRedis} does.
 */
export const rawRedisWithIds: TargetFactory = (url: string, params: BenchParams): BenchTarget => redisTarget(url, params, true);

function redisTarget(url: string, params: BenchParams, withIds: boolean): BenchTarget {
  const plainUrl = url.replace(/\?.*$/, '');
  let main: Client | undefined;
  let reader: Client | undefined;
  let stream = '';
  let running = false;
  let loop: Promise<void> | undefined;
  let torn: Promise<void> | undefined;
  return {
    async setup(destination: string, sink: ConsumerSink) {
      stream = `sb:q:${destination}`;
      main = newClient(plainUrl);
      reader = newClient(plainUrl);
      main.on('error', (err: Error) => sink.onError(err));
      reader.on('error', (err: Error) => sink.onError(err));
      await Promise.all([main.connect(), reader.connect()]);
      await main.sendCommand(['XGROUP', 'CREATE', stream, 'sb', '0', 'MKSTREAM']).catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
      running = true;
      const m = main;
      const r = reader;
      loop = (async () => {
        while (running) {
          const reply = await r.sendCommand<ReadReply>(['XREADGROUP', 'GROUP', 'sb', 'raw', 'COUNT', String(params.prefetch), 'BLOCK', '1000', 'STREAMS', stream, '>'], BUFFERS);
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0) continue;
          const ids = entries.map(([id]) => id);
          Promise.all([m.sendCommand(['XACK', stream, 'sb', ...ids]), m.sendCommand(['XDEL', stream, ...ids])]).then(
            () => {
              for (const [, fields] of entries) sink.onAcked(fields[1]!);
            },
            (err: Error) => sink.onError(err),
          );
        }
      })().catch((err: unknown) => {
        if (running) sink.onError(err instanceof Error ? err : new Error(String(err)));
      });
    },
    async publish(bodies: Buffer[]) {
      const m = main!;
      await Promise.all(bodies.map((body) => m.sendCommand(withIds ? ['XADD', stream, '*', 'body', body, 'sb-id', randomUUID()] : ['XADD', stream, '*', 'body', body])));
    },
    teardown() {
      torn ??= (async () => {
        running = false;
        reader?.destroy();
        await loop;
        if (main) await main.sendCommand(['DEL', stream]).catch(() => undefined);
        main?.destroy();
      })();
      return torn;
    },
  };
}
