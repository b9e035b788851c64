import { z } from 'zod';
import { configurationError, SwitchboardError } from './errors';
import type { AckMode, CloseOptions, ConsumerOptions, Destination, DestinationLike, Headers, StartPosition } from './types';
import { toDestination } from './destination';
import { isStandardSchema, jsonSerializer, type Schema, type Serializer } from './typed';

/**
 * Validates `input` against a zod schema and returns the parsed value, or throws one
 * configuration error that lists every problem (path and message), never the first one only.
 */
export function validateOptions<S extends z.ZodType>(schema: S, input: unknown, subject: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  throw configurationError(
    subject,
    r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(options)'}: ${i.message}`),
  );
}

/**
 * {@link validateOptions} for the options of a call (send, close, producer): a problem is a bad
 * argument to that call, `invalid_argument`, not a bad configuration; the message and
 * `details.problems` are the same.
 */
function validateArgument<S extends z.ZodType>(schema: S, input: unknown, subject: string): z.output<S> {
  try {
    return validateOptions(schema, input, subject);
  } catch (e) {
    throw new SwitchboardError('invalid_argument', (e as Error).message, { details: (e as SwitchboardError).details });
  }
}

const positiveInt = z.number().int().positive();
const headerMap = z.record(z.string(), z.string());
const destinationLike = z.union([
  z.string().min(1),
  z.object({ kind: z.enum(['queue', 'topic']), name: z.string().min(1) }),
]);
const startPosition = z.union([
  z.literal('earliest'),
  z.literal('latest'),
  z.object({ position: z.string().min(1) }).strict(),
  z.object({ offset: z.union([z.string().min(1), z.number().int().nonnegative()]) }).strict(),
  z.object({ timestamp: z.union([z.number().nonnegative(), z.date()]) }).strict(),
]);

/** A Standard Schema validator (typed consumers and producers). */
const standardSchema = z.custom<Schema>(isStandardSchema, 'must be a Standard Schema validator (zod, valibot, arktype, ...)');
/** A body serializer: `decode` and `encode` functions. */
const serializerShape = z.custom<Serializer>(
  (v) => typeof (v as Serializer | null)?.decode === 'function' && typeof (v as Serializer | null)?.encode === 'function',
  'must have decode and encode functions',
);

export const consumerOptionsSchema = z
  .object({
    group: z.string().min(1).max(200).optional(),
    from: startPosition.optional(),
    prefetch: positiveInt.max(10_000).optional(),
    ackMode: z.enum(['at-least-once', 'at-most-once']).optional(),
    ackTimeoutMs: positiveInt.max(12 * 3600_000).optional(),
    maxAttempts: positiveInt.optional(),
    deadLetter: destinationLike.optional(),
    filter: headerMap.optional(),
    signal: z.instanceof(AbortSignal).optional(),
    schema: standardSchema.optional(),
    serializer: serializerShape.optional(),
  })
  .strict();

/** Consumer options with every default filled in. */
export interface ResolvedConsumerOptions {
  group: string;
  from: StartPosition;
  prefetch: number;
  ackMode: AckMode;
  ackTimeoutMs: number;
  maxAttempts: number | undefined;
  deadLetter: Destination;
  filter: Headers | undefined;
  signal: AbortSignal | undefined;
  /** Core's typed layer (drivers ignore these): validate each delivery against `schema`. */
  schema: Schema | undefined;
  serializer: Serializer;
}

export const CONSUMER_DEFAULTS = { group: 'default', from: 'latest', prefetch: 16, ackMode: 'at-least-once', ackTimeoutMs: 30_000 } as const;

/** The one place consumer options get their defaults. */
export function resolveConsumerOptions(source: Destination, options: ConsumerOptions | undefined): ResolvedConsumerOptions {
  const o = validateOptions(consumerOptionsSchema, options, 'consumer options');
  return {
    group: o.group ?? CONSUMER_DEFAULTS.group,
    from: (o.from as StartPosition | undefined) ?? CONSUMER_DEFAULTS.from,
    prefetch: o.prefetch ?? CONSUMER_DEFAULTS.prefetch,
    ackMode: o.ackMode ?? CONSUMER_DEFAULTS.ackMode,
    ackTimeoutMs: o.ackTimeoutMs ?? CONSUMER_DEFAULTS.ackTimeoutMs,
    maxAttempts: o.maxAttempts,
    deadLetter: o.deadLetter ? toDestination(o.deadLetter as DestinationLike) : { kind: 'queue', name: `${source.name}-dlq` },
    filter: o.filter,
    signal: o.signal,
    schema: o.schema,
    serializer: o.serializer ?? jsonSerializer,
  };
}

const producerOptionsSchema = z
  .object({
    schema: standardSchema,
    serializer: serializerShape.optional(),
  })
  .strict();

/** Validates `producer(options)`: a typed producer needs a Standard Schema, and takes a serializer (default JSON). */
export function resolveProducerOptions(options: unknown): { schema: Schema; serializer: Serializer } | undefined {
  if (options === undefined) return undefined;
  const o = validateArgument(producerOptionsSchema, options, 'producer options');
  return { schema: o.schema, serializer: o.serializer ?? jsonSerializer };
}

const sendOptionsSchema = z
  .object({
    confirm: z.boolean().optional(),
    key: z.string().optional(),
    headers: headerMap.optional(),
    delayMs: z.number().int().nonnegative().optional(),
    id: z.string().min(1).optional(),
    signal: z.instanceof(AbortSignal).optional(),
  })
  .strict();

/** True when every field of `o` is a send option of the right type (the common case, checked without zod). */
function plainSendOptions(o: object): boolean {
  for (const k in o) {
    const v = (o as Record<string, unknown>)[k];
    if (v === undefined) continue;
    switch (k) {
      case 'confirm':
        if (typeof v !== 'boolean') return false;
        break;
      case 'key':
        if (typeof v !== 'string') return false;
        break;
      case 'id':
        if (typeof v !== 'string' || v.length === 0) return false;
        break;
      case 'delayMs':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return false;
        break;
      case 'signal':
        if (!(v instanceof AbortSignal)) return false;
        break;
      case 'headers':
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
        for (const h in v) if (typeof (v as Record<string, unknown>)[h] !== 'string') return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * Validates send options against `sendOptionsSchema`; bad ones are `invalid_argument` naming each
 * problem. Options that are plainly valid skip the schema (a send is a hot path); anything else
 * goes through it, so the schema alone decides what is accepted and how a problem is worded.
 */
export function validateSendOptions<T>(options: T): T {
  if (options === undefined) return options;
  if (typeof options === 'object' && options !== null && Object.getPrototypeOf(options) === Object.prototype && plainSendOptions(options)) return options;
  validateArgument(sendOptionsSchema, options, 'send options');
  return options;
}

const closeOptionsSchema = z.object({ timeoutMs: z.number().nonnegative().finite().optional() }).strict();

/** How long a close waits for handlers before handing their deliveries back (see `CloseOptions`). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** Validates close options; returns the close deadline's length in milliseconds. */
export function resolveCloseTimeout(options: CloseOptions | undefined): number {
  return validateArgument(closeOptionsSchema, options, 'close options').timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
}

export { z };
