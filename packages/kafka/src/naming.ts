import { createHash } from 'node:crypto';
import type { Destination } from '@switchboard/core';
import { assertDestinationName } from '@switchboard/core/driver';

/** Kafka's rule for topic names: letters, digits, ".", "_", "-"; not "." or "..". */
export const TOPIC_NAME_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;
/** Kafka's longest topic name. */
export const TOPIC_NAME_MAX = 249;
const RULE = `Kafka topic names use only letters, digits, ".", "_" and "-", are at most ${TOPIC_NAME_MAX} characters, and are not "." or ".."`;

/** Throws `invalid_argument` when the destination cannot be a Kafka topic name. */
export function assertTopicName(d: Destination): void {
  assertDestinationName(d, TOPIC_NAME_PATTERN, TOPIC_NAME_MAX, RULE);
}

/** The group a queue's consumers share: every consumer of a queue competes. */
export const QUEUE_GROUP = 'queue';

const hash = (s: string, n = 12) => createHash('sha256').update(s).digest('hex').slice(0, n);
const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

/**
 * Kafka consumer group id of a Switchboard group on a destination: `sb.<topic>.<group>` (a queue has
 * the one group `sb.<queue>.queue`). Group ids are free-form in Kafka, so the names are kept readable.
 */
export function groupId(d: Destination, group: string): string {
  return `sb.${d.name}.${d.kind === 'queue' ? QUEUE_GROUP : group}`;
}

/**
 * The retry topic of one group: nacked, timed-out and delayed messages of that group are re-published
 * here, so a retry never reaches the other groups of a fan-out topic.
 */
export function retryTopic(d: Destination, group: string): string {
  const g = d.kind === 'queue' ? QUEUE_GROUP : group;
  const readable = `${d.name}.sb-retry.${safe(g)}${safe(g) === g ? '' : `-${hash(g, 8)}`}`;
  if (readable.length <= TOPIC_NAME_MAX) return readable;
  return `${d.name.slice(0, 180)}.sb-retry.${hash(`${d.name}\u0000${g}`, 24)}`;
}

/** The reply topic of one connection. */
export function replyTopic(connectionId: string): string {
  return `sb.reply.${connectionId}`;
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
