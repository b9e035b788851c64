// OpenTelemetry through Switchboard, with the SDK's in-memory exporter: one linked trace from the
// producer's span through the broker to the consumer's span, on memory:// and each live broker.
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import { connect, SwitchboardError, type Connection, type Delivery } from '@switchboard/core';
import '@switchboard/memory';
import '@switchboard/kafka';
import '@switchboard/rabbitmq';
import '@switchboard/nats';
import '@switchboard/sqs';
import { BROKER_NAMES, describeWithBroker, type BrokerHandle } from '../harness';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

const spansNamed = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

async function waitFor<T>(what: string, get: () => T | undefined, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends one message inside an application span and checks the producer and consumer spans. */
async function sendAndTrace(conn: Connection, system: string): Promise<void> {
  const q = `sb-trace-${randomUUID().slice(0, 8)}`;
  const c = await conn.consumer(`queue:${q}`);
  const handled: Delivery[] = [];
  let activeInHandler: string | undefined;
  const h = c.consume((d) => {
    activeInHandler = trace.getSpan(context.active())?.spanContext().spanId;
    handled.push(d);
  });
  const app = trace.getTracer('app').startSpan('checkout');
  await context.with(trace.setSpan(context.active(), app), () => conn.producer().send(`queue:${q}`, { id: `m-${q}`, body: 'traced' }));
  app.end();
  await waitFor('the delivery', () => handled[0]);
  const consumerSpan = await waitFor('the consumer span', () => spansNamed(`process ${q}`)[0]);
  await h.close();
  await c.close();

  const producerSpan = spansNamed(`send ${q}`)[0]!;
  expect(producerSpan.kind).toBe(SpanKind.PRODUCER);
  expect(parentOf(producerSpan)).toBe(app.spanContext().spanId);
  expect(producerSpan.attributes).toMatchObject({
    'messaging.system': system,
    'messaging.operation.type': 'send',
    'messaging.destination.name': q,
    'messaging.message.id': `m-${q}`,
    'messaging.message.body.size': 6,
  });
  expect(handled[0]!.headers.traceparent).toContain(producerSpan.spanContext().spanId);

  // One trace: the consumer span is the producer span's child, and links to it.
  expect(consumerSpan.kind).toBe(SpanKind.CONSUMER);
  expect(consumerSpan.spanContext().traceId).toBe(app.spanContext().traceId);
  expect(parentOf(consumerSpan)).toBe(producerSpan.spanContext().spanId);
  expect(consumerSpan.links.map((l) => l.context.spanId)).toEqual([producerSpan.spanContext().spanId]);
  expect(consumerSpan.attributes).toMatchObject({
    'messaging.system': system,
    'messaging.operation.type': 'process',
    'messaging.destination.name': q,
    'messaging.consumer.group.name': 'default',
    'messaging.message.id': `m-${q}`,
  });
  expect(activeInHandler).toBe(consumerSpan.spanContext().spanId);
}

/** A request and its reply carry the context both ways. */
async function requestAndTrace(conn: Connection): Promise<void> {
  const q = `sb-trace-rr-${randomUUID().slice(0, 8)}`;
  const responder = await conn.consumer(`queue:${q}`);
  const h = responder.consume((d) => d.respond('pong'));
  const reply = await conn.producer().request(`queue:${q}`, 'ping', { timeoutMs: 15_000 });
  const requestSpan = await waitFor('the request span', () => spansNamed(`request ${q}`)[0]);
  // The reply can arrive before the responder's process span ends (it ends once the handler settled).
  const processSpan = await waitFor('the process span', () => spansNamed(`process ${q}`)[0]);
  await h.close();
  await responder.close();
  expect(reply.text()).toBe('pong');
  expect(reply.headers.traceparent).toContain(processSpan.spanContext().spanId);
  expect(parentOf(processSpan)).toBe(requestSpan.spanContext().spanId);
  expect(requestSpan.links.map((l) => l.context.spanId)).toContain(processSpan.spanContext().spanId);
}

describe('tracing on memory://', () => {
  test('tracing - producer and consumer spans form one linked trace with the messaging attributes', async () => {
    const conn = await connect('memory://tracing');
    await sendAndTrace(conn, 'switchboard.memory');
    await requestAndTrace(conn);
    await conn.close();
  });

  test('tracing - a failing handler marks its consumer span as an error', async () => {
    const conn = await connect('memory://tracing-fail');
    const c = await conn.consumer('queue:fails', { maxAttempts: 1 });
    const h = c.consume(() => {
      throw new Error('downstream is down');
    });
    await conn.producer().send('queue:fails', 'x');
    const span = await waitFor('the failed span', () => spansNamed('process fails')[0]);
    expect(span.status).toMatchObject({ code: 2, message: 'downstream is down' });
    expect(span.events.map((e) => e.name)).toContain('exception');
    await h.close();
    await conn.close();
  });
});

const SYSTEMS: Record<string, string> = { kafka: 'kafka', rabbitmq: 'rabbitmq', nats: 'nats', sqs: 'aws_sqs', redis: 'redis' };

for (const name of BROKER_NAMES) {
  describeWithBroker(name, `tracing on ${name}`, (broker: BrokerHandle) => {
    test(`tracing - ${name}: producer and consumer spans form one linked trace, and a request/reply carries it both ways`, async () => {
      const conn = await connect(broker.url());
      try {
        await sendAndTrace(conn, SYSTEMS[name]!);
        if (conn.capabilities.requestResponse.level !== 'none') await requestAndTrace(conn);
      } finally {
        await conn.close();
      }
    }, 120_000);

    if (name === 'sqs') {
      test('tracing - sqs: the traceparent header counts against the 10 message attributes, checked before sending', async () => {
        const conn = await connect(broker.url());
        try {
          const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, 'v']));
          const err = await conn.producer().send('queue:sb-trace-limit', { body: 'x', headers: nine }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(SwitchboardError);
          expect((err as SwitchboardError).code).toBe('invalid_argument');
          expect((err as SwitchboardError).message).toMatch(/10 headers/);
          const eight = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`h${i}`, 'v']));
          await expect(conn.producer().send('queue:sb-trace-limit', { body: 'x', headers: eight })).resolves.toMatchObject({ confirmed: true });
        } finally {
          await conn.close();
        }
      }, 60_000);
    }
  });
}
