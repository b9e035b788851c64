import { createHash } from 'node:crypto';
import type { Destination } from '@switchboard/core';
import { assertDestinationName } from '@switchboard/core/driver';

/** SQS queue names: 1-80 characters of letters, digits, `-` and `_` (FIFO queues end in `.fifo`, counted). */
export const SQS_QUEUE_NAME_MAX = 80;
/** SNS topic names: 1-256 characters of letters, digits, `-` and `_` (FIFO topics end in `.fifo`, counted). */
export const SNS_TOPIC_NAME_MAX = 256;

const LOGICAL_NAME = /^[A-Za-z0-9_.-]+$/;
const FIFO_SUFFIX = '.fifo';

/** A destination as it exists in AWS: its physical name and whether it is FIFO. */
export interface PhysicalName {
  readonly name: string;
  readonly fifo: boolean;
}

/**
 * Maps a Switchboard destination name to the SQS/SNS resource name. Periods are not allowed in
 * SQS/SNS names except in the `.fifo` suffix, yet Switchboard's default dead-letter queue is
 * `<name>.dlq`: every other `.` becomes `_` (so `orders.dlq` is the queue `orders_dlq`). A name
 * ending in `.fifo` is a FIFO queue/topic; with `forceFifo` (the connection's FIFO mode) every
 * name is, `.fifo` being appended. `prefix` is prepended (a namespace inside one account).
 */
export function physicalName(logical: string, prefix = '', forceFifo = false): PhysicalName {
  const suffixed = logical.endsWith(FIFO_SUFFIX) && logical.length > FIFO_SUFFIX.length;
  const base = suffixed ? logical.slice(0, -FIFO_SUFFIX.length) : logical;
  const fifo = suffixed || forceFifo;
  return { name: `${prefix}${base.replaceAll('.', '_')}${fifo ? FIFO_SUFFIX : ''}`, fifo };
}

/**
 * Throws `invalid_argument` (before any network call) when `d` cannot be an SQS queue or SNS
 * topic name: only letters, digits, `-`, `_` and `.` (periods map to `_`), and at most 80
 * characters for a queue / 256 for a topic once mapped, prefix included.
 */
export function assertValidDestination(d: Destination, prefix = '', forceFifo = false): PhysicalName {
  const added = forceFifo && !d.name.endsWith(FIFO_SUFFIX) ? FIFO_SUFFIX.length : 0;
  const max = (d.kind === 'queue' ? SQS_QUEUE_NAME_MAX : SNS_TOPIC_NAME_MAX) - added;
  const rule = `${d.kind === 'queue' ? 'SQS queue' : 'SNS topic'} names use letters, digits, "-", "_" and "." (mapped to "_"), at most ${max} characters${prefix ? ` with the prefix "${prefix}"` : ''}; a ".fifo" suffix makes it FIFO`;
  assertDestinationName(d, LOGICAL_NAME, max - prefix.length, rule);
  return physicalName(d.name, prefix, forceFifo);
}

function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 10);
}

/**
 * The SQS queue that holds one subscription group of one SNS topic: `<topic>--<group>`
 * (`.fifo` for a FIFO topic). Characters SQS does not allow, or a name over 80 characters, give
 * a shortened name with a hash of (topic, group), so it stays deterministic: every member of the
 * group, in any process, reaches the same queue.
 */
export function groupQueueName(topic: PhysicalName, group: string): PhysicalName {
  const suffix = topic.fifo ? FIFO_SUFFIX : '';
  const topicBase = topic.fifo ? topic.name.slice(0, -FIFO_SUFFIX.length) : topic.name;
  const clean = /^[A-Za-z0-9_-]+$/.test(group);
  const plain = `${topicBase}--${group}${suffix}`;
  if (clean && plain.length <= SQS_QUEUE_NAME_MAX) return { name: plain, fifo: topic.fifo };
  const h = shortHash(topic.name, group);
  const room = SQS_QUEUE_NAME_MAX - suffix.length - h.length - 3;
  const t = topicBase.slice(0, Math.ceil(room * 0.6));
  const g = group.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, room - t.length);
  return { name: `${t}--${g}-${h}${suffix}`, fifo: topic.fifo };
}

const DEDUP_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

/**
 * A value usable as a FIFO MessageGroupId / MessageDeduplicationId (1-128 characters of letters,
 * digits and punctuation): the value itself when it qualifies, else a SHA-256 hex digest of it.
 */
export function fifoToken(value: string): string {
  return DEDUP_ID.test(value) ? value : createHash('sha256').update(value).digest('hex');
}
