import { SwitchboardError, type Destination } from '@switchboard/core';
import { assertDestinationName } from '@switchboard/core/driver';

/**
 * Destination names become NATS subject tokens: printable ASCII without whitespace or wildcards,
 * dot-separated tokens that are never empty. Stream and consumer names are derived from them by
 * {@link encodeName}, so the name rule is the subject rule.
 */
const NAME_PATTERN = /^[!-~]+$/;
export const MAX_NAME_LENGTH = 120;
/**
 * The server's limit on stream and consumer (durable) names, in bytes: `JSMaxNameLen` in
 * nats-server (stream create answers err_code 10052, consumer create 10102, beyond it).
 */
export const MAX_JETSTREAM_NAME_LENGTH = 255;
const NAME_RULE = `at most ${MAX_NAME_LENGTH} characters of NATS subject: printable ASCII, no whitespace, no wildcards (* >), no empty "."-separated tokens`;

/** The subject rules every mode shares; throws `invalid_argument`. */
export function assertNatsName(d: Destination): void {
  const ok = NAME_PATTERN.test(d.name) && !/[*>]/.test(d.name) && d.name.split('.').every((t) => t.length > 0);
  assertDestinationName(d, ok ? NAME_PATTERN : /(?!)/, MAX_NAME_LENGTH, NAME_RULE);
}

const tooLong = (what: string, name: string, derived: string): SwitchboardError =>
  new SwitchboardError(
    'invalid_argument',
    `invalid ${what} "${name.slice(0, 300)}": its JetStream name "${derived.slice(0, 40)}..." would be ${derived.length} characters, over the NATS server's limit of ${MAX_JETSTREAM_NAME_LENGTH} (every character other than A-Z a-z 0-9 "-" takes 3 in it, e.g. "." is "_2E"); use a shorter name or fewer such characters`,
    { details: { name: name.slice(0, 300), derived: derived.length, limit: MAX_JETSTREAM_NAME_LENGTH } },
  );

/**
 * JetStream mode (`nats://`): the subject rules, and the stream name derived by
 * {@link streamNames} must fit the server's {@link MAX_JETSTREAM_NAME_LENGTH}. Every name that
 * passes maps to its own stream and subject; the others are `invalid_argument` before any round trip.
 */
export function assertJetStreamName(d: Destination, streamPrefix: string): void {
  assertNatsName(d);
  const { stream } = streamNames(d, streamPrefix, 'sb');
  if (stream.length > MAX_JETSTREAM_NAME_LENGTH) throw tooLong(`${d.kind} name`, d.name, stream);
}

/**
 * Core mode (`nats+core://`): the subject rules, and a topic (its name is its subject) may not take
 * a subject this adapter or the server uses for something else: `<subjectPrefix>.q.<x>` is queue x
 * (see {@link coreSubject}), `<subjectPrefix>.t.<x>` is JetStream topic x on the same server, `<subjectPrefix>.rq.<x>` and
 * `<subjectPrefix>.rt.<x>` take JetStream requests ({@link requestSubject}),
 * `_INBOX.` subjects are the reply inboxes, and `$` subjects are the server's (`$JS.API`, `$JS.ACK`,
 * `$SYS`, ...). Throws `invalid_argument` before anything is sent.
 */
export function assertCoreName(d: Destination, subjectPrefix: string): void {
  assertNatsName(d);
  if (d.kind !== 'topic') return;
  const refuse = (why: string) => {
    throw new SwitchboardError('invalid_argument', `invalid topic name "${d.name.slice(0, 300)}": ${why}`, { details: { destination: d.name.slice(0, 300) } });
  };
  for (const [k, kind] of [
    ['q', 'queue'],
    ['t', 'JetStream topic'],
    ['qp', 'partitioned JetStream queue'],
    ['tp', 'partitioned JetStream topic'],
    ['rq', 'JetStream queue requests'],
    ['rt', 'JetStream topic requests'],
  ] as const) {
    const prefix = `${subjectPrefix}.${k}.`;
    if (d.name.startsWith(prefix)) {
      refuse(`in NATS it is the subject of ${kind} "${d.name.slice(prefix.length, 300)}" (${prefix}<name>), so the two would share one subject`);
    }
  }
  if (d.name.startsWith('_INBOX.')) refuse('subjects under _INBOX. are the reply inboxes of requests');
  if (d.name.startsWith('$')) refuse('subjects starting with $ belong to the NATS server ($JS.API, $JS.ACK, $SYS, ...)');
}

/**
 * The subject of a core-NATS destination: a topic is its name as is (plain NATS pub/sub, open to
 * any NATS client), a queue is `<subjectPrefix>.q.<name>` (the subject JetStream mode uses for it
 * too), so `queue:x` and `topic:x` never share a subject.
 */
export function coreSubject(d: Destination, subjectPrefix: string): string {
  return d.kind === 'queue' ? `${subjectPrefix}.q.${d.name}` : d.name;
}

const GROUP_RULE = /^[!-~]+$/;

/** A group name becomes a durable consumer name (encoded) or a queue group name (as is). */
export function assertGroupName(group: string): boolean {
  return GROUP_RULE.test(group) && !/[*>]/.test(group);
}

/**
 * JetStream mode: the durable consumer name of a topic group must fit the server's
 * {@link MAX_JETSTREAM_NAME_LENGTH}; throws `invalid_argument` before any round trip.
 */
export function assertDurableFits(d: Destination, group: string): void {
  const durable = durableName(d, group);
  if (durable.length > MAX_JETSTREAM_NAME_LENGTH) throw tooLong('group name', group, durable);
}

/**
 * Encodes any printable name into the character set of stream and consumer names
 * ([A-Za-z0-9-] plus "_"), injectively: every other byte becomes "_" and two hex digits.
 * Nothing is truncated or hashed: a name too long once encoded is refused instead.
 */
export function encodeName(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Names of the JetStream objects behind one destination. */
export interface StreamNames {
  stream: string;
  subject: string;
}

/**
 * The stream `<streamPrefix>_Q_<encoded name>` (or `_T_` for a topic) and the subject
 * `<subjectPrefix>.q.<name>` (or `.t.`) of a JetStream destination. Injective: distinct
 * destinations get distinct streams and subjects.
 */
export function streamNames(d: Destination, streamPrefix: string, subjectPrefix: string): StreamNames {
  const k = d.kind === 'queue' ? 'Q' : 'T';
  return {
    stream: `${streamPrefix}_${k}_${encodeName(d.name)}`,
    subject: `${subjectPrefix}.${k.toLowerCase()}.${d.name}`,
  };
}

/**
 * JetStream mode: the core NATS subject where a destination takes requests in NATS's own
 * request/reply convention (a core publish with a reply subject, answered on that reply subject):
 * `<subjectPrefix>.rq.<name>` for a queue, `<subjectPrefix>.rt.<name>` for a topic. It is not the
 * stream's subject on purpose: JetStream answers every publish with a reply subject on a stream
 * subject with its PubAck, which a plain NATS requester (`nats request`) would take for the reply.
 * Switchboard consumers of the destination listen here (one queue group per destination) and store
 * each request in the stream with its reply subject as `sb-reply-to`; a plain NATS responder may
 * listen here too and answer the reply subject directly.
 */
export function requestSubject(d: Destination, subjectPrefix: string): string {
  return `${subjectPrefix}.${d.kind === 'queue' ? 'rq' : 'rt'}.${d.name}`;
}

/**
 * The subject of shard `shard` of a partitioned JetStream destination (connection option
 * `partitions`): `<subjectPrefix>.qp.<name>.<shard>` for a queue, `<subjectPrefix>.tp.<name>.<shard>`
 * for a topic. Its own kind token (`qp`, `tp`) keeps it apart from every unpartitioned subject
 * (`sb.q.a.3` is queue "a.3", never shard 3 of queue "a"); the name's token count differs between
 * two partitioned destinations, so `<...>.<name>.*` of one never matches a shard of another.
 */
export function shardSubject(d: Destination, subjectPrefix: string, shard: number): string {
  return `${shardSubjectBase(d, subjectPrefix)}.${shard}`;
}

/** `<subjectPrefix>.qp.<name>` (or `.tp.`): the shard subjects without their last token. */
export function shardSubjectBase(d: Destination, subjectPrefix: string): string {
  return `${subjectPrefix}.${d.kind === 'queue' ? 'qp' : 'tp'}.${d.name}`;
}

/**
 * The durable consumer of shard `shard` for a group: `<durableName>_p<shard>`. Unambiguous: in an
 * encoded name "_" is always followed by two upper-case hex digits, never "p".
 */
export function shardDurable(durable: string, shard: number): string {
  return `${durable}_p${shard}`;
}

/**
 * The durable consumer of the keyless lane of a partitioned destination for a group:
 * `<durableName>_u` (reads the destination's plain subject, unordered, like an unpartitioned group).
 */
export function laneDurable(durable: string): string {
  return `${durable}_u`;
}

/** The durable consumer of a group: queues have one shared consumer, topics one per group. */
export function durableName(d: Destination, group: string): string {
  return d.kind === 'queue' ? 'mailbox' : `g_${encodeName(group)}`;
}

/** Fields parsed from a JetStream ack subject ($JS.ACK...). */
export interface AckInfo {
  stream: string;
  consumer: string;
  deliveryCount: number;
  streamSequence: number;
  timestampNanos: number;
  pending: number;
}

/** Parses both the v1 (9 tokens) and v2 (11+ tokens, with domain and account hash) ack subjects. */
export function parseAckSubject(reply: string): AckInfo | undefined {
  const t = reply.split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  let rest: string[];
  if (t.length === 9) rest = t.slice(2);
  else if (t.length >= 11) rest = t.slice(4);
  else return undefined;
  const [stream, consumer, delivered, sseq, , ts, pending] = rest;
  const n = (s: string | undefined) => Number(s);
  const info = {
    stream: stream!,
    consumer: consumer!,
    deliveryCount: n(delivered),
    streamSequence: n(sseq),
    timestampNanos: n(ts),
    pending: n(pending),
  };
  if (!Number.isFinite(info.deliveryCount) || !Number.isFinite(info.streamSequence)) return undefined;
  return info;
}

/**
 * `Delivery.position` of a topic message: its stream sequence in decimal. Queues give none: their
 * work-queue stream removes a message once it is acked, so there is no log to replay.
 */
export function formatPosition(d: Destination, streamSequence: number): string | undefined {
  return d.kind === 'topic' ? String(streamSequence) : undefined;
}

/** The stream sequence of a position from {@link formatPosition}; anything else is `invalid_argument`. */
export function parsePosition(position: string): number {
  const seq = Number(position);
  if (!/^[1-9][0-9]*$/.test(position) || !Number.isSafeInteger(seq)) {
    throw new SwitchboardError('invalid_argument', `from.position must be a position this adapter gave out (a stream sequence, 1 or more in decimal), got "${position.slice(0, 100)}"`);
  }
  return seq;
}
