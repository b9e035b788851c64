/**
 * An order pipeline that runs unchanged on every backend: set SWITCHBOARD_URL (default memory://).
 *
 *   pnpm --filter @switchboard/examples build
 *   SWITCHBOARD_URL=memory:// node examples/dist/order-worker.js
 *   SWITCHBOARD_URL=kafka://127.0.0.1:9092 node examples/dist/order-worker.js
 *   SWITCHBOARD_URL=amqp://guest:guest@127.0.0.1:5672 node examples/dist/order-worker.js
 *   SWITCHBOARD_URL='sqs+http://127.0.0.1:4566?region=us-east-1' node examples/dist/order-worker.js
 *   SWITCHBOARD_URL=nats://127.0.0.1:4222 node examples/dist/order-worker.js
 *
 * A worker handles orders with at-least-once delivery; one order is poison and ends in the
 * dead-letter queue after three attempts; a pricing service answers request/response calls.
 * Every queue it made is deleted before it returns.
 */
import { connect, HEADERS, type Connection, type Destination } from '@switchboard/core';
import { cleanUp } from './clean-up';
import { DRIVERS } from './drivers';

export interface OrderRunResult {
  handled: string[];
  deadLettered: { id: string; reason: string | undefined }[];
  quote: string;
  /** The destinations the run made (and deleted again). */
  made: Destination[];
}

/** Waits until `done()` holds, checking every 20 ms; throws after `ms`. */
async function until(what: string, done: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs the order pipeline once on `conn`: sends four orders (one poison) and a price request,
 * waits for the three good orders, the dead letter and the reply, then closes its consumers and
 * deletes the queues it made. `suffix` keeps the names of concurrent runs apart.
 */
export async function runOrderPipeline(conn: Connection, suffix = Date.now().toString(36)): Promise<OrderRunResult> {
  const orders = { kind: 'queue', name: `orders-${suffix}` } as const;
  const dlq = { kind: 'queue', name: `orders-${suffix}-dlq` } as const;
  const pricing = { kind: 'queue', name: `pricing-${suffix}` } as const;
  const made: Destination[] = [orders, dlq, pricing];
  const handled: string[] = [];
  const deadLettered: OrderRunResult['deadLettered'] = [];
  const handles: { close(): Promise<void> }[] = [];

  try {
    const worker = await conn.consumer(orders, { maxAttempts: 3, deadLetter: dlq, ackTimeoutMs: 10_000 });
    handles.push(worker);
    handles.push(worker.consume(async (d) => {
      const order = d.json<{ sku: string }>();
      if (order.sku === 'POISON') throw new Error(`cannot ship ${order.sku}`);
      handled.push(order.sku);
    }, { concurrency: 4 }));
    const deadLetters = await conn.consumer(dlq);
    handles.push(deadLetters);
    handles.push(deadLetters.consume((d) => {
      deadLettered.push({ id: d.id, reason: d.headers[HEADERS.deadLetterReason] });
    }));
    const pricer = await conn.consumer(pricing);
    handles.push(pricer);
    handles.push(pricer.consume(async (d) => {
      await d.respond({ body: JSON.stringify({ sku: d.text(), price: 42 }), headers: { currency: 'EUR' } });
    }));

    const producer = conn.producer();
    await producer.send(orders, ['A-1', 'B-2', 'POISON', 'C-3'].map((sku) => ({ body: JSON.stringify({ sku }), key: sku })));
    const reply = await producer.request(pricing, 'A-1', { timeoutMs: 10_000 });
    await until('three orders and one dead letter', () => handled.length >= 3 && deadLettered.length >= 1);
    return { handled: handled.sort(), deadLettered, quote: `${reply.text()} ${reply.headers.currency}`, made };
  } finally {
    // Handles first (they wait for handlers in flight), then the consumers, then what was made.
    for (const h of handles.reverse()) await h.close();
    await cleanUp(conn, { destinations: made });
  }
}

/** `node dist/order-worker.js`: one run on SWITCHBOARD_URL, one line of output. */
export async function main(): Promise<void> {
  const url = process.env.SWITCHBOARD_URL ?? 'memory://';
  await using conn = await connect(url, { drivers: DRIVERS });
  const result = await runOrderPipeline(conn);
  console.log(`backend ${conn.backend}: handled ${result.handled.join(', ')}; dead-lettered ${result.deadLettered.length} (${result.deadLettered[0]?.reason}); quote ${result.quote}`);
}

// Run directly (node dist/order-worker.js), not when imported or bundled as ESM (where `module` does not exist).
if (typeof module !== 'undefined' && require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
