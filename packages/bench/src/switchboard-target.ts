import { connect as coreConnect, queue, type AckMode, type ConnectOptions, type Connection, type ConsumeHandle, type Consumer, type Destination, type Producer } from '@switchboard/core';
import type { BenchParams, BenchTarget, ConsumerSink, TargetFactory } from './workload';

/** How the Switchboard run connects; `connect` from `@switchboard/core` unless a test or host passes its own. */
export type ConnectFn = (url: string, options?: ConnectOptions) => Promise<Connection>;

/** Options of the Switchboard side that change the guarantee it gives. */
export interface SwitchboardTargetOptions {
  /**
   * `at-least-once` (Switchboard's default): the handler calls `delivery.ack()` and returns; the message counts once the ack resolved.
   * `at-most-once`: the consumer's `ackMode`, deliveries arrive already settled and the handler only counts them.
   */
  readonly ackMode?: AckMode;
  /**
   * Messages carry one of this many keys, in turn (`k0`, `k1`, ...); absent: no keys. With keys,
   * `consume` never runs two messages of one key at once, so at most `keys` handlers run.
   */
  readonly keys?: number;
}

/**
 * The Switchboard side of the workload, on any URL `connect()` understands: the destination is the
 * queue `queue:<name>`; the consumer is `connection.consumer(queue, { prefetch, ackMode })` driven by
 * `consume(handler, { concurrency: prefetch })`, whose handler calls `delivery.ack()` and counts the message once it resolved (a no-op
 * that resolves at once in at-most-once mode); each batch is one `producer.send(queue, bodies, { confirm: true })`.
 */
export function switchboardTarget(connect: ConnectFn = coreConnect, options: SwitchboardTargetOptions = {}): TargetFactory {
  const ackMode: AckMode = options.ackMode ?? 'at-least-once';
  const keys = options.keys ? Array.from({ length: options.keys }, (_, i) => `k${i}`) : undefined;
  let next = 0;
  return (url: string, params: BenchParams): BenchTarget => {
    let conn: Connection | undefined;
    let consumer: Consumer | undefined;
    let handle: ConsumeHandle | undefined;
    let producer: Producer | undefined;
    let dest: Destination | undefined;
    let torn: Promise<void> | undefined;
    return {
      async setup(destination: string, sink: ConsumerSink) {
        dest = queue(destination);
        conn = await connect(url);
        await conn.admin.ensureDestination(dest);
        consumer = await conn.consumer(dest, { prefetch: params.prefetch, ackMode });
        handle = consumer.consume(
          // Acks and returns: the handler slot frees at once, as it does when core acks after a
          // handler; the message counts once the broker confirmed the ack.
          (d) => {
            const body = d.body;
            d.ack().then(
              () => sink.onAcked(body),
              (err: unknown) => sink.onError(err),
            );
          },
          { concurrency: params.prefetch },
        );
        handle.done.then(
          () => undefined,
          (err: unknown) => sink.onError(err),
        );
        producer = conn.producer();
      },
      async publish(bodies: Buffer[]) {
        if (keys) await producer!.send(dest!, bodies.map((body) => ({ body, key: keys[next++ % keys.length] })), { confirm: true });
        else await producer!.send(dest!, bodies, { confirm: true });
      },
      teardown() {
        torn ??= (async () => {
          await handle?.close().catch(() => undefined);
          await consumer?.close().catch(() => undefined);
          if (conn && dest) await conn.admin.deleteDestination(dest).catch(() => undefined);
          await conn?.close();
        })();
        return torn;
      },
    };
  };
}
