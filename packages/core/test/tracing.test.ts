import { propagation, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createTracing } from '../src/tracing';
import type { Delivery } from '@switchboard/core';

const delivery = { id: 'm1', body: new Uint8Array(3), headers: {}, attempt: 1 } as unknown as Delivery;
const source = { kind: 'queue', name: 'q' } as const;

describe('tracing - the cost without an SDK', () => {
  afterEach(() => trace.disable());

  test('tracing - without an SDK a delivery runs its handler directly: no context extraction, no span', async () => {
    const extract = jest.spyOn(propagation, 'extract');
    const startSpan = jest.spyOn(trace, 'getTracer');
    const t = createTracing('memory');
    expect(t.active()).toBe(false);
    await expect(t.process(delivery, source, 'g', async () => 'ran')).resolves.toBe('ran');
    const message = { id: 'x', body: new Uint8Array(), key: undefined, headers: {}, delayMs: undefined };
    t.send(source, [message], 'send').end();
    expect(message.headers).toEqual({});
    expect(extract).not.toHaveBeenCalled();
    expect(startSpan).not.toHaveBeenCalled();
    extract.mockRestore();
    startSpan.mockRestore();
  });

  test('tracing - an SDK installed after the connection was made is used from then on', async () => {
    const t = createTracing('memory');
    expect(t.active()).toBe(false);
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    expect(t.active()).toBe(true);
    await t.process(delivery, source, 'g', async () => undefined);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['process q']);
    await provider.shutdown();
  });

  test('tracing - a message the broker names gets its id on the producer span when the span ends, not before', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    const t = createTracing('redis');
    const message = { id: 'generated', body: new Uint8Array(2), key: undefined, headers: {}, delayMs: undefined };
    t.send(source, [message], 'send', true).end(undefined, undefined, '1700000000000-0');
    t.send(source, [message], 'send').end();
    expect(exporter.getFinishedSpans().map((s) => s.attributes['messaging.message.id'])).toEqual(['1700000000000-0', 'generated']);
    await provider.shutdown();
  });
});
