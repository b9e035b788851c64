import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Diagnostics } from './diagnostics';
import { formatDestination } from './destination';
import { bytesToText } from './message';
import { admittingConsumer } from './admitting-consumer';
import { SwitchboardError } from './errors';
import type { Consumer, Delivery, DestinationLike, Headers, OutgoingMessage, Producer, Reply, RequestOptions, SendOptions, SendReceipt } from './types';

/** Turns message bodies into values and back. JSON (UTF-8) by default; bytes stay reachable as `body`. */
export interface Serializer {
  /** Throws when the body is not in this format. */
  decode(body: Uint8Array, headers: Headers): unknown;
  encode(value: unknown): Uint8Array;
}

/** The default serializer: UTF-8 JSON. */
export const jsonSerializer: Serializer = {
  decode: (body) => JSON.parse(bytesToText(body)) as unknown,
  encode: (value) => new TextEncoder().encode(JSON.stringify(value)),
};

/** A delivery whose body was decoded and checked against the consumer's schema: `data` is typed. */
export type TypedDelivery<T> = Delivery & { readonly data: T };

/** Any Standard Schema validator (zod, valibot, arktype, ...). */
export type Schema<T = unknown> = StandardSchemaV1<unknown, T>;

/** Whether `value` implements Standard Schema v1. */
export function isStandardSchema(value: unknown): value is Schema {
  const s = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.['~standard'];
  return typeof s === 'object' && s !== null && s.version === 1 && typeof s.validate === 'function';
}

const ISSUES_SHOWN = 10;

/** An issue's path as keys (Standard Schema allows `{ key }` segments). */
function issuePath(issue: StandardSchemaV1.Issue): PropertyKey[] {
  return (issue.path ?? []).map((p) => (typeof p === 'object' ? p.key : p));
}

function formatIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  const shown = issues.slice(0, ISSUES_SHOWN).map((i) => {
    const path = issuePath(i).map(String).join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
  const more = issues.length > ISSUES_SHOWN ? `; and ${issues.length - ISSUES_SHOWN} more` : '';
  return `${shown.join('; ')}${more}`;
}

type Checked<T> = { ok: true; delivery: TypedDelivery<T> } | { ok: false; reason: string };

/**
 * Wraps a consumer so that every delivery is decoded with `serializer` and validated with `schema`
 * before the application sees it. A delivery that fails is rejected to the dead-letter destination
 * with the schema's issues as its reason (never retried, never handed out), and reported to
 * `onError` with origin `schema`. Where the delivery cannot be rejected (at-most-once, or a backend
 * without `reject`) it is dropped after the report.
 */
export function typedConsumer<T>(inner: Consumer, schema: Schema<T>, serializer: Serializer, diagnostics: Diagnostics): Consumer<TypedDelivery<T>> {
  const where = { destination: formatDestination(inner.source), group: inner.group };

  const check = async (d: Delivery): Promise<Checked<T>> => {
    let value: unknown;
    try {
      value = serializer.decode(d.body, d.headers);
    } catch (err) {
      return { ok: false, reason: `schema: the body could not be decoded: ${err instanceof Error ? err.message : String(err)}` };
    }
    const result = await schema['~standard'].validate(value);
    if (result.issues) return { ok: false, reason: `schema: ${formatIssues(result.issues)}` };
    return { ok: true, delivery: Object.create(d, { data: { value: result.value, enumerable: true } }) as TypedDelivery<T> };
  };

  /** Checks `d`; an invalid one is rejected (or dropped) and reported; resolves with the typed delivery or undefined. */
  const admit = async (d: Delivery): Promise<TypedDelivery<T> | undefined> => {
    const r = await check(d);
    if (r.ok) return r.delivery;
    diagnostics.report({ origin: 'schema', error: new Error(r.reason), ...where, messageId: d.id, attempt: d.attempt }, `a message on ${where.destination} failed its schema and was dead-lettered`);
    if (d.state === 'pending') {
      await d.reject(r.reason).catch((err: unknown) =>
        diagnostics.report({ origin: 'background', error: err, ...where, messageId: d.id }, `rejecting a message that failed its schema on ${where.destination} failed`),
      );
    }
    return undefined;
  };

  return admittingConsumer(inner, admit);
}

/** One message of a typed producer's batch: the value as `data`, with the usual per-message fields. */
export interface TypedMessage<T> {
  readonly data: T;
  readonly key?: string;
  readonly headers?: Headers;
  readonly id?: string;
}

/**
 * A producer of values checked against a schema (see `Connection.producer({ schema })`). Each value
 * is validated, then encoded by the serializer (UTF-8 JSON by default); a value that fails is an
 * `invalid_argument` error listing the schema's issues (`details.issues`), and nothing is sent (for a
 * batch: none of it). The schema's output is what is encoded, so transforms and defaults apply.
 */
export interface TypedProducer<T> extends AsyncDisposable {
  send(destination: DestinationLike, data: T, options?: SendOptions): Promise<SendReceipt>;
  /** Sends a batch; like `Producer.send` with an array. */
  sendBatch(destination: DestinationLike, messages: readonly TypedMessage<T>[], options?: SendOptions): Promise<SendReceipt[]>;
  /** Request/response with a typed request body; the reply is untyped bytes as with `Producer.request`. */
  request(destination: DestinationLike, data: T, options?: RequestOptions): Promise<Reply>;
  /** The untyped producer underneath, for bytes. */
  readonly untyped: Producer;
  close(): Promise<void>;
}

/** Builds a typed producer over `inner`. */
export function typedProducer<T>(inner: Producer, schema: Schema<T>, serializer: Serializer): TypedProducer<T> {
  const encode = async (values: readonly TypedMessage<T>[]): Promise<OutgoingMessage[]> => {
    const out: OutgoingMessage[] = [];
    for (let i = 0; i < values.length; i++) {
      const m = values[i]!;
      const result = await schema['~standard'].validate(m.data);
      if (result.issues) {
        const where = values.length > 1 ? `message ${i}: ` : '';
        throw new SwitchboardError('invalid_argument', `${where}the value does not match the producer's schema: ${formatIssues(result.issues)}`, {
          details: { index: i, issues: result.issues.map((x) => ({ message: x.message, path: issuePath(x) })) },
        });
      }
      let body: Uint8Array;
      try {
        body = serializer.encode(result.value);
      } catch (err) {
        throw new SwitchboardError('invalid_argument', `${values.length > 1 ? `message ${i}: ` : ''}the value could not be encoded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      out.push({ body, ...(m.key !== undefined ? { key: m.key } : {}), ...(m.headers !== undefined ? { headers: m.headers } : {}), ...(m.id !== undefined ? { id: m.id } : {}) });
    }
    return out;
  };
  const p: TypedProducer<T> = {
    untyped: inner,
    async send(destination, data, options) {
      const [m] = await encode([{ data }]);
      return inner.send(destination, m!, options);
    },
    async sendBatch(destination, messages, options) {
      if (!Array.isArray(messages)) throw new SwitchboardError('invalid_argument', 'sendBatch needs an array of { data } messages');
      return inner.send(destination, await encode(messages), options);
    },
    async request(destination, data, options) {
      const [m] = await encode([{ data }]);
      return inner.request(destination, m!, options);
    },
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  return p;
}
