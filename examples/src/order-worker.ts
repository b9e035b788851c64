/**
 * An order pipeline that runs unchanged on every backend: set SWITCHBOARD_URL (default memory://).
 *
 *   SWITCHBOARD_URL=memory:// pnpm --filter @switchboard/examples order-worker
 *   SWITCHBOARD_URL=amqp://guest:guest@127.0.0.1:5672 pnpm --filter @switchboard/examples order-worker
 *
 * A worker handles orders with at-least-once delivery; one order is poison and ends in the
 * dead-letter queue after three attempts; a pricing service answers request/response calls.
 */
import { connect, HEADERS, type Connection } from '@switchboard/core';

export interface OrderRunResult {
  handled: string[];
  deadLettered: { id: string; reason: string | undefined }[];
  quote: string;
}

export async function runOrderPipeline(conn: Connection, suffix = Date.now().toString(36)): Promise<OrderRunResult> {
  const orders = { kind: 'queue', name: `orders-${suffix}` } as const;
  const dlq = { kind: 'queue', name: `orders-${suffix}-dlq` } as const;
  const pricing = { kind: 'queue', name: `pricing-${suffix}` } as const;
  const handled: string[] = [];
  const deadLettered: OrderRunResult['deadLettered'] = [];

  const worker = (await conn.consumer(orders, { maxAttempts: 3, deadLetter: dlq, ackTimeoutMs: 10_000 })).consume(async (d) => {
    const order = d.json<{ sku: string }>();
    if (order.sku === 'POISON') throw new Error(`cannot ship ${order.sku}`);
    handled.push(order.sku);
  }, { concurrency: 4 });
  const deadLetters = (await conn.consumer(dlq)).consume((d) => {
    deadLettered.push({ id: d.id, reason: d.headers[HEADERS.deadLetterReason] });
  });
  const pricer = (await conn.consumer(pricing)).consume(async (d) => {
    await d.respond({ body: JSON.stringify({ sku: d.text(), price: 42 }), headers: { currency: 'EUR' } });
  });

  const producer = conn.producer();
  await producer.send(orders, ['A-1', 'B-2', 'POISON', 'C-3'].map((sku) => ({ body: JSON.stringify({ sku }), key: sku })));
  const reply = await producer.request(pricing, 'A-1', { timeoutMs: 10_000 });

  const deadline = Date.now() + 30_000;
  while ((handled.length < 3 || deadLettered.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await Promise.all([worker.close(), deadLetters.close(), pricer.close()]);
  return { handled: handled.sort(), deadLettered, quote: `${reply.text()} ${reply.headers.currency}` };
}

// Run directly (node dist/order-worker.js), not when imported or bundled as ESM (where `module` does not exist).
if (typeof module !== 'undefined' && require.main === module) {
  (async () => {
    const url = process.env.SWITCHBOARD_URL ?? 'memory://';
    await using conn = await connect(url);
    const result = await runOrderPipeline(conn);
    console.log(`backend ${conn.backend}: handled ${result.handled.join(', ')}; dead-lettered ${result.deadLettered.length} (${result.deadLettered[0]?.reason}); quote ${result.quote}`);
  })().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
