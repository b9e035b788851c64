// Assertions shared by the examples' tests on memory:// (examples/test) and on each live broker
// (integration-tests/examples): what a run of each example must have done, and left behind.
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { SwitchboardError, type Connection, type Destination } from '@switchboard/core';
import type { OrderRunResult } from '../src/order-worker';
import { GROUPS, type PricingRunResult } from '../src/pricing-service';

/** The order pipeline handled the three good orders, dead-lettered the poison one, and got its quote. */
export function expectOrderRun(r: OrderRunResult): void {
  expect(r.handled).toEqual(['A-1', 'B-2', 'C-3']);
  expect(r.deadLettered).toHaveLength(1);
  expect(r.deadLettered[0]!.reason).toContain('cannot ship POISON');
  expect(r.quote).toBe('{"sku":"A-1","price":42} EUR');
}

/** The pricing demo got both quotes, both groups got both valid changes, each dead-lettered the invalid one. */
export function expectPricingRun(r: PricingRunResult): void {
  expect(r.quotes.map(({ traceId: _, ...q }) => q)).toEqual([
    { sku: 'A-1', qty: 3, unitPrice: 12.5, total: 37.5, currency: 'EUR' },
    { sku: 'C-3', qty: 1, unitPrice: 99, total: 99, currency: 'EUR' },
  ]);
  for (const g of GROUPS) {
    // Per-key order is not promised on every backend across keys: compare as sets.
    expect([...r.changes[g]].sort((a, b) => a.sku.localeCompare(b.sku))).toEqual([{ sku: 'A-1', price: 11 }, { sku: 'B-2', price: 5 }]);
    expect(r.deadLetters[g]).toHaveLength(1);
    expect(JSON.parse(r.deadLetters[g][0]!.body)).toEqual({ sku: 'B-2', price: 'free' });
    expect(r.deadLetters[g][0]!.reason).toMatch(/schema: price: .*expected number/);
  }
}

const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan): string => s.spanContext().spanId;

/**
 * Each quote is one linked trace: the client's `quote <sku>` span is the root, the request's
 * producer span its child, the service's consumer span the producer's child (and linked to it), the
 * service's lookup span inside that; the request span links to the consumer span (the reply's
 * context). The price changes are one trace: a producer span, and a consumer span per valid
 * change per group under it. Returns the names of the spans of the first quote's trace, root first.
 */
export function expectPricingTraces(r: PricingRunResult, spans: readonly ReadableSpan[], system: string): string[] {
  const quotes = r.quotes.length;
  expect(new Set(r.quotes.map((q) => q.traceId)).size).toBe(quotes);
  const names = pricingDestinationNames(r);
  let first: string[] = [];
  for (const q of r.quotes) {
    const inTrace = spans.filter((s) => s.spanContext().traceId === q.traceId);
    const one = (name: string) => {
      const found = inTrace.filter((s) => s.name === name);
      expect(found.map((s) => s.name)).toEqual([name]);
      return found[0]!;
    };
    const root = one(`quote ${q.sku}`);
    const request = one(`request ${names.quotes}`);
    const process = one(`process ${names.quotes}`);
    const lookup = one(`look up ${q.sku}`);
    expect(parentOf(root)).toBeUndefined();
    expect(parentOf(request)).toBe(idOf(root));
    expect(request.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(process)).toBe(idOf(request));
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.links.map((l) => l.context.spanId)).toEqual([idOf(request)]);
    expect(process.attributes).toMatchObject({ 'messaging.system': system, 'messaging.destination.name': names.quotes, 'messaging.consumer.group.name': 'default' });
    expect(parentOf(lookup)).toBe(idOf(process));
    expect(request.links.map((l) => l.context.spanId)).toContain(idOf(process));
    if (first.length === 0) first = [root, request, process, lookup].map((s) => s.name);
  }

  const sends = spans.filter((s) => s.name === `send ${names.prices}`);
  expect(sends).toHaveLength(1);
  expect(sends[0]!.attributes).toMatchObject({ 'messaging.system': system, 'messaging.batch.message_count': 3 });
  const processed = spans.filter((s) => s.name === `process ${names.prices}`);
  // One consumer span per change per group: the invalid change is rejected inside its span too.
  expect(processed.map((s) => s.attributes['messaging.consumer.group.name']).sort()).toEqual(['audit', 'audit', 'audit', 'notifications', 'notifications', 'notifications']);
  for (const s of processed) expect(parentOf(s)).toBe(idOf(sends[0]!));
  return first;
}

/** The quote queue and prices topic names of a run. */
export function pricingDestinationNames(r: PricingRunResult): { quotes: string; prices: string } {
  return { quotes: r.made.find((d) => d.kind === 'queue')!.name, prices: r.made.find((d) => d.kind === 'topic')!.name };
}

/**
 * Nothing a run made is left, as far as Switchboard can tell: `admin.listObjects` finds nothing for
 * each destination. Returns false (checking nothing) when the backend's driver has no listObjects.
 */
export async function expectNothingListed(conn: Connection, made: readonly Destination[]): Promise<boolean> {
  for (const d of made) {
    let objects;
    try {
      objects = await conn.admin.listObjects(d);
    } catch (err) {
      if (err instanceof SwitchboardError && err.code === 'unsupported') return false;
      throw err;
    }
    expect({ destination: d.name, objects }).toEqual({ destination: d.name, objects: [] });
  }
  return true;
}
