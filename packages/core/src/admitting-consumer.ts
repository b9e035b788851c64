import type { ConsumeHandle, Consumer, Delivery, Subscription } from './types';

/**
 * Decides what the application sees of one delivery: the delivery to hand on (the same one, or a
 * wrapper such as a typed or deduplicating view), or undefined when it settled the delivery itself
 * (a duplicate acked, an invalid message rejected).
 */
export type Admit<D extends Delivery> = (delivery: Delivery) => Promise<D | undefined>;

/**
 * Wraps a consumer so every delivery passes `admit` first, on every path: `subscribe`, `consume`
 * and `poll`. In `consume`, resolve = ack and throw = nack apply to the admitted delivery, so a
 * wrapper's own settle logic runs.
 */
export function admittingConsumer<D extends Delivery>(inner: Consumer, admit: Admit<D>): Consumer<D> {
  const filter = (sub: Subscription): Subscription<D> => ({
    [Symbol.asyncIterator]() {
      const it = sub[Symbol.asyncIterator]();
      return {
        async next() {
          for (;;) {
            const r = await it.next();
            if (r.done) return r;
            const d = await admit(r.value);
            if (d) return { value: d, done: false };
          }
        },
        return: async () => {
          await sub.close();
          return { value: undefined, done: true };
        },
      };
    },
    close: () => sub.close(),
    [Symbol.asyncDispose]: () => sub.close(),
  });

  return {
    source: inner.source,
    group: inner.group,
    subscribe: (options) => filter(inner.subscribe(options)),
    consume(handler, options): ConsumeHandle {
      return inner.consume(async (d) => {
        const admitted = await admit(d);
        if (!admitted) return;
        try {
          await handler(admitted);
          if (admitted.state === 'pending') await admitted.ack();
        } catch (err) {
          if (admitted.state === 'pending') await admitted.nack({ reason: err instanceof Error ? err.message : String(err) });
          throw err;
        }
      }, options);
    },
    async poll(options) {
      const out: D[] = [];
      for (const d of await inner.poll(options)) {
        const admitted = await admit(d);
        if (admitted) out.push(admitted);
      }
      return out;
    },
    close: (options) => inner.close(options),
    [Symbol.asyncDispose]: () => inner.close(),
  };
}
