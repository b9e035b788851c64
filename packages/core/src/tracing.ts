import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { SwitchboardError } from './errors';
import type { NormalizedMessage } from './message';
import type { Delivery, Destination, Headers } from './types';

/**
 * OpenTelemetry tracing through `@opentelemetry/api` only: without an SDK installed by the
 * application every call here is the API's no-op, and nothing is added to messages. With one, a
 * send injects W3C `traceparent` / `tracestate` (and `baggage`) into each message's headers (before
 * the size and header-count checks, so they count against the broker's limits), and `consume`
 * runs each handler in a consumer span that is a child of, and linked to, the producer's context.
 * Span names and attributes follow the OpenTelemetry messaging semantic conventions.
 */
export interface Tracing {
  /**
   * Whether an application installed a tracer provider (an SDK), asked per call so that one
   * installed after connecting is used. Without one, callers skip tracing altogether.
   */
  active(): boolean;
  /**
   * Starts the producer span of one send (or request) and injects its context into every message.
   * `idLater`: the one message's id is the broker's name for it, known only once the broker
   * confirmed the send; `end` is given it.
   */
  send(destination: Destination, messages: readonly NormalizedMessage[], operation: 'send' | 'request', idLater?: boolean): SpanHandle;
  /** Runs `handle` in the consumer span of one delivery handed to a `consume` handler. */
  process<T>(d: Delivery, source: Destination, group: string, handle: () => Promise<T>): Promise<T>;
  /** Injects the active context (the handler's span, when replying from one) into a reply. */
  injectReply(m: NormalizedMessage): void;
}

/** A started span: end it once the operation is over. */
export interface SpanHandle {
  /**
   * Ends the span; with `error`, marks it failed. `linkFrom` adds contexts seen on the way (a reply).
   * `messageId`: the id of a message the broker named (see {@link Tracing.send}'s `idLater`).
   */
  end(error?: unknown, linkFrom?: Headers, messageId?: string): void;
}

/** `messaging.system` per backend, where the semantic conventions name one. */
const SYSTEMS: Readonly<Record<string, string>> = { kafka: 'kafka', rabbitmq: 'rabbitmq', sqs: 'aws_sqs', nats: 'nats', memory: 'switchboard.memory' };

const TRACER = '@switchboard/core';

/**
 * The tracer of an installed SDK, or undefined when none is: the API's global provider is a proxy
 * whose delegate is set when an SDK registers. Duck-typed, so a second copy of the API still works
 * (a provider that is not such a proxy counts as installed).
 */
function installedTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider() as TracerProvider & { getDelegateTracer?: (name: string) => Tracer | undefined };
  return typeof provider.getDelegateTracer === 'function' ? provider.getDelegateTracer(TRACER) : provider.getTracer(TRACER);
}

const NO_SPAN: SpanHandle = { end: () => undefined };

const headerGetter = {
  keys: (carrier: Headers) => Object.keys(carrier),
  get: (carrier: Headers, key: string) => carrier[key],
};
const headerSetter = {
  set: (carrier: Headers, key: string, value: string) => {
    carrier[key] = value;
  },
};

function fail(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setAttribute('error.type', error instanceof SwitchboardError ? error.code : error instanceof Error ? error.name : 'unknown');
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** The tracing of one connection to `backend`. */
export function createTracing(backend: string): Tracing {
  const system = SYSTEMS[backend] ?? backend;
  const base = (dest: Destination, operation: string, type: string): Attributes => ({
    'messaging.system': system,
    'messaging.operation.name': operation,
    'messaging.operation.type': type,
    'messaging.destination.name': dest.name,
    'switchboard.destination.kind': dest.kind,
  });

  return {
    active: () => installedTracer() !== undefined,

    send(destination, messages, operation, idLater = false) {
      const tracer = installedTracer();
      if (!tracer) return NO_SPAN;
      const attributes: Attributes = base(destination, operation, 'send');
      if (messages.length === 1) {
        if (!idLater) attributes['messaging.message.id'] = messages[0]!.id;
        attributes['messaging.message.body.size'] = messages[0]!.body.byteLength;
      } else {
        attributes['messaging.batch.message_count'] = messages.length;
      }
      const span = tracer.startSpan(`${operation} ${destination.name}`, { kind: SpanKind.PRODUCER, attributes });
      // Without an SDK the span is a no-op with an invalid context: nothing is added to the messages.
      if (trace.isSpanContextValid(span.spanContext())) {
        const ctx = trace.setSpan(context.active(), span);
        for (const m of messages) propagation.inject(ctx, m.headers, headerSetter);
      }
      return {
        end(error, linkFrom, messageId) {
          if (messageId !== undefined) span.setAttribute('messaging.message.id', messageId);
          if (linkFrom) {
            const replyContext = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, linkFrom, headerGetter));
            if (replyContext) span.addLink({ context: replyContext });
          }
          if (error !== undefined) fail(span, error);
          span.end();
        },
      };
    },

    async process(d, source, group, handle) {
      const tracer = installedTracer();
      if (!tracer) return handle();
      const parent: Context = propagation.extract(ROOT_CONTEXT, d.headers, headerGetter);
      const producer = trace.getSpanContext(parent);
      const links: Link[] = producer ? [{ context: producer }] : [];
      const attributes: Attributes = {
        ...base(source, 'process', 'process'),
        'messaging.consumer.group.name': group,
        'messaging.message.id': d.id,
        'messaging.message.body.size': d.body.byteLength,
        'messaging.message.delivery_attempt': d.attempt,
      };
      if (d.correlationId !== undefined) attributes['messaging.message.conversation_id'] = d.correlationId;
      const span = tracer.startSpan(`process ${source.name}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
      return context.with(trace.setSpan(parent, span), async () => {
        try {
          return await handle();
        } catch (err) {
          fail(span, err);
          throw err;
        } finally {
          span.end();
        }
      });
    },

    injectReply(m) {
      if (trace.getSpanContext(context.active())) propagation.inject(context.active(), m.headers, headerSetter);
    },
  };
}
