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
 * BLOCK 1000 and acks each entry with XACK + XDEL on the first connection (counted once written,
 * as the other raw clients count `ack`). Switchboard's query parameters are dropped from the URL.
 */
export const rawRedis: TargetFactory = (url: string, params: BenchParams): BenchTarget => {
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
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            void m.sendCommand(['XACK', stream, 'sb', id]).catch((err: Error) => sink.onError(err));
            void m.sendCommand(['XDEL', stream, id]).catch((err: Error) => sink.onError(err));
            sink.onAcked(fields[1]!);
          }
        }
      })().catch((err: unknown) => {
        if (running) sink.onError(err instanceof Error ? err : new Error(String(err)));
      });
    },
    async publish(bodies: Buffer[]) {
      const m = main!;
      await Promise.all(bodies.map((body) => m.sendCommand(['XADD', stream, '*', 'body', body])));
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
};
