import { createHash } from 'node:crypto';
import { SwitchboardError, type Destination } from '@switchboard/core';
import { assertDestinationName } from '@switchboard/core/driver';

/** Kafka's rule for topic names: letters, digits, ".", "_", "-"; not "." or "..". */
export const TOPIC_NAME_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;
/** Kafka's longest topic name. */
export const TOPIC_NAME_MAX = 249;
/** What a queue's Kafka topic adds to the queue name (see {@link kafkaTopic}). */
export const QUEUE_TOPIC_SUFFIX = '.sb-queue';
/** The longest queue name: its Kafka topic, `<name>.sb-queue`, must fit Kafka's 249 characters. */
export const QUEUE_NAME_MAX = TOPIC_NAME_MAX - QUEUE_TOPIC_SUFFIX.length;

const RULE = 'Kafka topic names use only letters, digits, ".", "_" and "-", and are not "." or ".."';

/**
 * Kafka's own collision rule: two topic names that are equal once every "." is read as "_"
 * cannot both exist (the second creation fails). Names are compared in this form.
 */
export const collisionForm = (topic: string): string => topic.replace(/\./g, '_');

/** Segments reserved for the adapter's own topics: retry topics (`sb-retry`) and queue topics (`sb-queue`). */
const RESERVED_SEGMENT = /(^|_)sb-(retry|queue)(_|$)/;
/** Reply topics: `sb.reply.<id>`. */
const RESERVED_PREFIX = /^sb_reply_/;

/**
 * The Kafka topic of a destination. A topic `x` is the Kafka topic `x` (as in every earlier
 * version). A queue `x` is the Kafka topic `x.sb-queue`, so `queue:x` and `topic:x` never share a
 * topic (earlier versions used `x` for both; such a queue's records are now read as `topic:x`, group `queue`, which has that queue's group id, offsets and retry topic).
 */
export function kafkaTopic(d: Destination): string {
  return d.kind === 'queue' ? `${d.name}${QUEUE_TOPIC_SUFFIX}` : d.name;
}

/**
 * Throws `invalid_argument` (before anything reaches the network) when the destination cannot have
 * a Kafka topic of its own: a character Kafka does not allow, a Kafka topic longer than 249
 * characters (a queue name is at most 240: its topic adds `.sb-queue`), or a name in the shape of
 * the adapter's own topics (a `sb-retry` or `sb-queue` segment between "." / "_", or an
 * `sb.reply.` / `sb_reply_` prefix), which could share a topic with a retry, queue or reply topic.
 * Names differing only in "." vs "_" are each valid; Kafka refuses the second one to be created,
 * which {@link Topics} reports as `invalid_argument` naming the existing one.
 */
export function assertTopicName(d: Destination): void {
  assertDestinationName(d, TOPIC_NAME_PATTERN, Number.MAX_SAFE_INTEGER, RULE);
  const max = d.kind === 'queue' ? QUEUE_NAME_MAX : TOPIC_NAME_MAX;
  if (d.name.length > max) {
    const why = d.kind === 'queue' ? `a queue's Kafka topic is "<name>${QUEUE_TOPIC_SUFFIX}", and Kafka topic names are at most ${TOPIC_NAME_MAX} characters` : `Kafka topic names are at most ${TOPIC_NAME_MAX} characters`;
    throw new SwitchboardError('invalid_argument', `invalid ${d.kind} name "${d.name.slice(0, 300)}" (${d.name.length} characters): at most ${max}, since ${why}`, {
      details: { destination: d.name.slice(0, 300) },
    });
  }
  const c = collisionForm(d.name);
  if (RESERVED_SEGMENT.test(c) || RESERVED_PREFIX.test(c)) {
    throw new SwitchboardError(
      'invalid_argument',
      `invalid ${d.kind} name "${d.name}": names with a "sb-retry" or "sb-queue" part between "." or "_", or starting with "sb.reply." (or "sb_reply_"), are reserved for the Kafka adapter's retry, queue and reply topics, and this one could share a topic with them`,
      { details: { destination: d.name } },
    );
  }
}

/** Throws `invalid_argument` when `topic` (a raw Kafka topic name, e.g. a reply-to) is not a valid Kafka topic name. */
export function assertKafkaTopic(topic: string): void {
  assertDestinationName({ kind: 'topic', name: topic }, TOPIC_NAME_PATTERN, TOPIC_NAME_MAX, `${RULE}, and are at most ${TOPIC_NAME_MAX} characters`);
}

/** The group a queue's consumers share: every consumer of a queue competes. */
export const QUEUE_GROUP = 'queue';

const hash = (s: string, n = 12) => createHash('sha256').update(s).digest('hex').slice(0, n);

/**
 * Kafka consumer group id of a Switchboard group on a destination. With `K` = {@link kafkaTopic}:
 * `sb.<K>.<group>` when the group name has no "."; `sb.<K>:<group>` when it has one (else topic
 * "a.b" group "c" and topic "a" group "b.c" would share `sb.a.b.c`). A queue has the one group
 * `queue`. Topic names never contain ":", so the mapping is injective.
 */
export function groupId(d: Destination, group: string): string {
  const g = d.kind === 'queue' ? QUEUE_GROUP : group;
  return `sb.${kafkaTopic(d)}${g.includes('.') ? ':' : '.'}${g}`;
}

/**
 * The group id earlier versions used (`sb.<name>.<group>`), when it differs from
 * {@link groupId} for a topic group: a new group that has no committed offsets takes that group's
 * offsets on the same topic, so an upgrade neither skips nor repeats records.
 */
export function legacyGroupId(d: Destination, group: string): string | undefined {
  if (d.kind === 'queue') return undefined;
  const old = `sb.${d.name}.${group}`;
  return old === groupId(d, group) ? undefined : old;
}

/** A group name used as it is in a retry topic name: Kafka-safe, no "." and not in the shape of an escaped one. */
const plainGroup = (g: string) => /^[A-Za-z0-9_-]+$/.test(g) && !/-[0-9a-f]{8}$/.test(g) && !/^[0-9a-f]{24}$/.test(g);

/**
 * The retry topic of one group: nacked, timed-out and delayed messages of that group are re-published
 * here, so a retry never reaches the other groups of a fan-out topic. With `K` = {@link kafkaTopic}:
 * `<K>.sb-retry.<group>` for a group of letters, digits, "_" and "-"; any other group (a ".", which
 * Kafka would confuse with "_", another character, or a name ending like an escape, `-<8 hex>`) is
 * written `<group, other characters as "_">-<8 hex of sha-256 of the group>`; when that is longer
 * than 249 characters, `<first 180 of K>.sb-retry.<24 hex of sha-256 of K and group>`.
 */
export function retryTopic(d: Destination, group: string): string {
  const k = kafkaTopic(d);
  const g = d.kind === 'queue' ? QUEUE_GROUP : group;
  const part = plainGroup(g) ? g : `${g.replace(/[^A-Za-z0-9_-]/g, '_')}-${hash(g, 8)}`;
  const readable = `${k}.sb-retry.${part}`;
  if (readable.length <= TOPIC_NAME_MAX) return readable;
  return `${k.slice(0, 180)}.sb-retry.${hash(`${k}\u0000${g}`, 24)}`;
}

/** The reply topic of one connection. */
export function replyTopic(connectionId: string): string {
  return `sb.reply.${connectionId}`;
}

/** The consumer group that reads a reply topic (no user group id starts with `sb-reply.`). */
export function replyGroupId(topic: string): string {
  return `sb-reply.${topic}`;
}

/** What a Kafka topic of this adapter is, in the user's terms (for error messages). */
export function describeTopic(topic: string): string {
  const c = collisionForm(topic);
  if (/(^|_)sb-retry(_|$)/.test(c)) return `retry topic "${topic}"`;
  if (RESERVED_PREFIX.test(c)) return `reply topic "${topic}"`;
  if (topic.endsWith(QUEUE_TOPIC_SUFFIX)) return `queue:${topic.slice(0, -QUEUE_TOPIC_SUFFIX.length)} (Kafka topic "${topic}")`;
  return `topic:${topic}`;
}

/** Receipt / brokerRef format: `<partition>:<offset>`. */
export function formatRef(partition: number, offset: string | number): string {
  return `${partition}:${offset}`;
}

/** Parses `<partition>:<offset>` or a bare offset; undefined when malformed. */
export function parseRef(ref: string | number): { partition: number | undefined; offset: number } | undefined {
  if (typeof ref === 'number') return Number.isInteger(ref) && ref >= 0 ? { partition: undefined, offset: ref } : undefined;
  const m = /^\s*(?:(\d+):)?(\d+)\s*$/.exec(ref);
  if (!m) return undefined;
  return { partition: m[1] === undefined ? undefined : Number(m[1]), offset: Number(m[2]) };
}

/** A delivery's position in its source topic, as `Delivery.position` gives it out. */
export interface KafkaPosition {
  readonly partition: number;
  readonly offset: number;
  /** The record's timestamp (ms): where the other partitions start. */
  readonly timestamp: number;
}

/** `Delivery.position` format: `<partition>:<offset>@<timestamp ms>`; undefined for a record without a usable timestamp. */
export function formatPosition(partition: number, offset: number, timestamp: number): string | undefined {
  return Number.isSafeInteger(timestamp) && timestamp >= 0 ? `${partition}:${offset}@${timestamp}` : undefined;
}

/** Parses a position of {@link formatPosition}; undefined when malformed. */
export function parsePosition(position: string): KafkaPosition | undefined {
  const m = /^(\d+):(\d+)@(\d+)$/.exec(position);
  if (!m) return undefined;
  const [partition, offset, timestamp] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![partition, offset, timestamp].every(Number.isSafeInteger)) return undefined;
  return { partition, offset, timestamp };
}
