/**
 * A pricing service that runs unchanged on every backend (set SWITCHBOARD_URL, default memory://):
 *
 * - request/response: it answers quote requests on `queue:quotes-<suffix>`;
 * - fan-out: price changes on `topic:prices-<suffix>` reach two groups, `audit` and `notifications`,
 *   each of which gets every change;
 * - typed messages: both consumers validate bodies with a zod schema (`schema` option), so `d.data`
 *   is typed; a price change that fails the schema ends in the group's dead-letter queue with the
 *   issues as its reason, never retried;
 * - OpenTelemetry: spans go to the console exporter, one linked trace per quote (the client's span,
 *   the request's producer span, the service's consumer span, its lookup span);
 * - graceful shutdown: on SIGTERM, `conn.close({ timeoutMs })` lets handlers in flight finish.
 *
 *   pnpm --filter @switchboard/examples build
 *   SWITCHBOARD_URL=kafka://127.0.0.1:9092 node examples/dist/pricing-service.js          # the demo, then exit
 *   SWITCHBOARD_URL=kafka://127.0.0.1:9092 node examples/dist/pricing-service.js --serve  # serve until SIGTERM
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { connect, HEADERS, type CloseOptions, type Connection, type Destination } from '@switchboard/core';
import { z } from 'zod';
import { cleanUp } from './clean-up';
import { DRIVERS } from './drivers';

/** A quote request: how many of which article. */
export const QuoteRequest = z.object({ sku: z.string().min(1), qty: z.number().int().positive() });
export type QuoteRequest = z.infer<typeof QuoteRequest>;

/** A price change, fanned out to every group of the prices topic. */
export const PriceChange = z.object({ sku: z.string().min(1), price: z.number().positive() });
export type PriceChange = z.infer<typeof PriceChange>;

/** The service's answer to a quote request. */
export interface Quote {
  sku: string;
  qty: number;
  unitPrice: number;
  total: number;
  currency: 'EUR';
}

/** The groups that follow price changes. */
export const GROUPS = ['audit', 'notifications'] as const;
export type Group = (typeof GROUPS)[number];

/** The destinations of one pricing deployment; `suffix` keeps concurrent runs apart. */
export interface PricingNames {
  quotes: Destination;
  quotesDeadLetter: Destination;
  prices: Destination;
  deadLetter: Record<Group, Destination>;
}

/** Names the destinations of a deployment. */
export function pricingNames(suffix: string): PricingNames {
  return {
    quotes: { kind: 'queue', name: `quotes-${suffix}` },
    quotesDeadLetter: { kind: 'queue', name: `quotes-${suffix}-dlq` },
    prices: { kind: 'topic', name: `prices-${suffix}` },
    deadLetter: { audit: { kind: 'queue', name: `prices-${suffix}-audit-dlq` }, notifications: { kind: 'queue', name: `prices-${suffix}-notifications-dlq` } },
  };
}

/** Every destination of a deployment and the groups joined on its topic, for `cleanUp`. */
export function madeBy(names: PricingNames): { destinations: Destination[]; groups: { topic: Destination; group: string }[] } {
  return {
    destinations: [names.quotes, names.quotesDeadLetter, names.prices, ...GROUPS.map((g) => names.deadLetter[g])],
    groups: GROUPS.map((group) => ({ topic: names.prices, group })),
  };
}

const PRICE_LIST: Readonly<Record<string, number>> = { 'A-1': 12.5, 'B-2': 4.2, 'C-3': 99 };

/**
 * Installs an OpenTelemetry SDK that sends every span to `exporter` (the console in `main`, an
 * in-memory exporter in the tests), with async-hooks context and W3C trace-context and baggage
 * propagation: what Switchboard needs to carry a trace through the broker. Returns its shutdown.
 */
export function startTracing(exporter: SpanExporter = new ConsoleSpanExporter()): { shutdown(): Promise<void> } {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** What the fan-out groups saw. */
export interface PriceFeed {
  readonly changes: Record<Group, PriceChange[]>;
}

/** A running pricing service. */
export interface PricingService {
  /** What the audit and notifications groups received so far. */
  readonly feed: PriceFeed;
  /** Graceful: waits for handlers in flight up to `timeoutMs`, then hands their deliveries back. */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Starts the service on `conn`: a typed consumer answers quote requests, and the audit and
 * notifications groups each follow every price change. Resolves once all three are ready.
 */
export async function startPricingService(conn: Connection, names: PricingNames): Promise<PricingService> {
  const tracer = trace.getTracer('pricing-service');
  const feed: PriceFeed = { changes: { audit: [], notifications: [] } };
  const closers: { close(options?: CloseOptions): Promise<void> }[] = [];

  const quotes = await conn.consumer(names.quotes, { schema: QuoteRequest, deadLetter: names.quotesDeadLetter });
  closers.push(quotes, quotes.consume(async (d) => {
    const { sku, qty } = d.data; // typed: QuoteRequest
    // A span of the service's own, inside the consumer span Switchboard opened for this delivery.
    const unitPrice = tracer.startActiveSpan(`look up ${sku}`, (span) => {
      span.setAttribute('pricing.sku', sku);
      span.end();
      return PRICE_LIST[sku] ?? 0;
    });
    const quote: Quote = { sku, qty, unitPrice, total: Math.round(unitPrice * qty * 100) / 100, currency: 'EUR' };
    await d.respond(JSON.stringify(quote));
  }, { concurrency: 4 }));

  for (const group of GROUPS) {
    const follower = await conn.consumer(names.prices, { group, schema: PriceChange, deadLetter: names.deadLetter[group] });
    closers.push(follower, follower.consume((d) => {
      feed.changes[group].push(d.data); // typed: PriceChange
    }));
  }

  return {
    feed,
    async close(options) {
      for (const c of closers.reverse()) await c.close(options);
    },
  };
}

/** What one demo run saw. */
export interface PricingRunResult {
  /** One quote per request, in request order, with the id of the trace it ran in. */
  quotes: (Quote & { traceId: string })[];
  /** The price changes each group received, in arrival order. */
  changes: Record<Group, PriceChange[]>;
  /** The dead letters of each group: the change that failed the schema, and why. */
  deadLetters: Record<Group, { body: string; reason: string | undefined }[]>;
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
 * One demo run on `conn`: starts the service, asks for two quotes (each inside a client span, so
 * each is one trace), publishes three price changes (one invalid), waits until both groups got
 * the two valid ones and both dead-lettered the invalid one, then closes everything and deletes
 * what it made.
 */
export async function runPricingDemo(conn: Connection, suffix = Date.now().toString(36)): Promise<PricingRunResult> {
  const names = pricingNames(suffix);
  const made = madeBy(names);
  const deadLetters: PricingRunResult['deadLetters'] = { audit: [], notifications: [] };
  const closers: { close(): Promise<void> }[] = [];
  let service: PricingService | undefined;
  try {
    service = await startPricingService(conn, names);
    for (const group of GROUPS) {
      const dlq = await conn.consumer(names.deadLetter[group]);
      closers.push(dlq, dlq.consume((d) => {
        deadLetters[group].push({ body: d.text(), reason: d.headers[HEADERS.deadLetterReason] });
      }));
    }

    const client = trace.getTracer('pricing-client');
    const producer = conn.producer();
    const quotes: PricingRunResult['quotes'] = [];
    for (const ask of [{ sku: 'A-1', qty: 3 }, { sku: 'C-3', qty: 1 }] satisfies QuoteRequest[]) {
      quotes.push(await client.startActiveSpan(`quote ${ask.sku}`, async (span) => {
        try {
          const reply = await producer.request(names.quotes, JSON.stringify(ask), { timeoutMs: 15_000 });
          return { ...(JSON.parse(reply.text()) as Quote), traceId: span.spanContext().traceId };
        } finally {
          span.end();
        }
      }));
    }

    const changes = [{ sku: 'A-1', price: 11 }, { sku: 'B-2', price: 'free' }, { sku: 'B-2', price: 5 }];
    await producer.send(names.prices, changes.map((c) => ({ body: JSON.stringify(c), key: c.sku })));
    const feed = service.feed;
    await until('both groups to get the two valid changes and dead-letter the invalid one', () =>
      GROUPS.every((g) => feed.changes[g].length >= 2 && deadLetters[g].length >= 1),
    );
    return { quotes, changes: feed.changes, deadLetters, made: made.destinations };
  } finally {
    for (const c of closers.reverse()) await c.close();
    await service?.close();
    await cleanUp(conn, made);
  }
}

/** `node dist/pricing-service.js [--serve]`: the demo on SWITCHBOARD_URL, or the service until SIGTERM. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  const tracing = startTracing(new ConsoleSpanExporter());
  const url = process.env.SWITCHBOARD_URL ?? 'memory://';
  const conn = await connect(url, {
    drivers: DRIVERS,
    // Handler failures, schema rejections, reconnects: what no caller awaits.
    onError: (e) => console.error(`pricing-service: [${e.origin}] ${e.destination ?? ''} ${e.error instanceof Error ? e.error.message : String(e.error)}`),
  });
  try {
    if (argv.includes('--serve')) {
      const names = pricingNames(process.env.PRICING_SUFFIX ?? 'service');
      await startPricingService(conn, names);
      // Keeps the process alive until a signal (memory:// holds no socket open that would).
      const alive = setInterval(() => {}, 60_000);
      const stop = new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      console.log(`pricing-service: serving ${names.quotes.name} and ${names.prices.name} on ${conn.backend}; stop with SIGTERM`);
      const signal = await stop;
      clearInterval(alive);
      // Stop taking messages; handlers in flight get 5 s to finish, then their deliveries go back to the broker.
      await conn.close({ timeoutMs: 5_000 });
      console.log(`pricing-service: closed gracefully on ${signal}`);
    } else {
      const r = await runPricingDemo(conn);
      for (const q of r.quotes) console.log(`quote ${q.sku} x${q.qty}: ${q.total} ${q.currency} (trace ${q.traceId})`);
      for (const g of GROUPS) console.log(`${g}: ${r.changes[g].map((c) => `${c.sku}=${c.price}`).join(', ')}; dead-lettered: ${r.deadLetters[g].map((d) => d.reason).join(', ')}`);
    }
  } finally {
    await conn.close();
    await tracing.shutdown();
  }
}

// Run directly (node dist/pricing-service.js), not when imported.
if (typeof module !== 'undefined' && require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
