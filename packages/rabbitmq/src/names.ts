import { createHash } from 'node:crypto';
import type { Destination } from '@switchboard/core';
import { assertDestinationName } from '@switchboard/core/driver';

/**
 * Destination names: letters, digits and `. _ - : /`, at most 200 characters, not starting with
 * `amq.` (reserved by RabbitMQ) nor `sb.delay.` (the adapter's delay queues). Names map to broker
 * objects as they are (no character is replaced), so distinct names are distinct objects; queue `x`
 * and topic `x` are a queue and an exchange, which RabbitMQ keeps apart. Everything derived from a
 * name contains `@` (which a name cannot) or starts with `sb.delay.`, and stays within the 255-byte
 * AMQP short string: see {@link groupQueueName}, {@link streamQueueName}, {@link offsetQueueName},
 * {@link groupRegistryName}, {@link delayQueueName}.
 */
export const NAME_PATTERN = /^(?!amq\.)(?!sb\.delay\.)[A-Za-z0-9._:/-]+$/;
export const NAME_MAX = 200;
export const NAME_RULE = 'RabbitMQ names here are 1-200 characters of letters, digits and . _ - : /, not starting with "amq." (reserved by RabbitMQ) or "sb.delay." (the adapter\'s delay queues)';
/** AMQP 0-9-1 queue and exchange names are short strings: at most 255 bytes of UTF-8. */
export const AMQP_NAME_BYTES = 255;

/** Throws `invalid_argument` (before any network effect) when the name breaks {@link NAME_RULE}. */
export function assertRabbitName(d: Destination): void {
  assertDestinationName(d, NAME_PATTERN, NAME_MAX, NAME_RULE);
}

/** Groups used verbatim in queue names; the rest (and anything shaped like a hashed group) are hashed. */
const SAFE_GROUP = /^[A-Za-z0-9._:/-]{1,50}$/;
const HASHED_GROUP = /^h-[0-9a-f]{40}$/;

function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}

/**
 * How a group appears in queue names: the group itself when it is 1-50 characters of the name
 * alphabet, else `h-<sha1 of the group>`. A group that itself looks like `h-<40 hex digits>` is hashed
 * too, so it cannot take the queue of the group whose hash it spells.
 */
export function groupPart(group: string): string {
  return SAFE_GROUP.test(group) && !HASHED_GROUP.test(group) ? group : `h-${sha1(group)}`;
}

/**
 * Durable queue that holds one subscription group of a topic: `<topic>@<group part>`. Injective:
 * a topic name has no `@`, so the first `@` splits topic from group (topic `a.b` group `c` is
 * `a.b@c`, topic `a` group `b.c` is `a@b.c`); at most 200 + 1 + 50 = 251 bytes.
 */
export function groupQueueName(topic: string, group: string): string {
  return `${topic}@${groupPart(group)}`;
}

/** The stream that retains a topic's messages for replay: `<topic>@@stream` (a group part is never empty, so no group queue looks like it). */
export function streamQueueName(topic: string): string {
  return `${topic}@@stream`;
}

/**
 * The registry of a topic's groups: `<topic>@@groups`, a durable queue holding one message per group
 * the adapter made objects for (its body is the group name), so admin can find and delete them (AMQP
 * 0-9-1 cannot list queues). No group queue looks like it: a group containing `@` is hashed.
 */
export function groupRegistryName(topic: string): string {
  return `${topic}@@groups`;
}

/**
 * Holds the committed stream offset of a group (a one-message queue): `<group queue>@@offset`, or,
 * where that would pass 255 bytes (a long topic with a long group), `<topic>@h-<sha1 of the
 * group>@@offset` (at most 251 bytes). Names that fit are unchanged, so stored offsets stay found.
 */
export function offsetQueueName(topic: string, group: string): string {
  const name = `${groupQueueName(topic, group)}@@offset`;
  return Buffer.byteLength(name, 'utf8') <= AMQP_NAME_BYTES ? name : `${topic}@h-${sha1(group)}@@offset`;
}

/**
 * A TTL'd retry queue: messages wait `delayMs`, then dead-letter to their target:
 * `sb.delay.<ms>.q.<queue>` or `sb.delay.<ms>.x.<exchange>`, or `sb.delay.<ms>.h-<sha1>` when that
 * would pass 255 bytes. No destination name starts with `sb.delay.`, so none can be one of these.
 */
export function delayQueueName(target: { exchange: string; routingKey: string }, delayMs: number): string {
  const t = target.exchange === '' ? `q.${target.routingKey}` : `x.${target.exchange}`;
  const name = `sb.delay.${delayMs}.${t}`;
  return Buffer.byteLength(name) <= AMQP_NAME_BYTES ? name : `sb.delay.${delayMs}.h-${sha1(t)}`;
}

/**
 * Shard `i` of a partitioned queue or topic group (option `partitions`): `<base>@@shard.<i>`, and its
 * queue for messages without a key (`i` = 'any'): `<base>@@any`, where
 * `<base>` is the queue's name or the group's queue ({@link groupQueueName}); where that would pass
 * 255 bytes (a long topic with a long group), `<topic>@h-<sha1 of the group>@@shard.<i>`. No
 * destination name contains `@`, and no other derived object ends in `@@shard.<i>`.
 */
export function shardQueueName(base: string, i: number | 'any', topic?: { topic: string; group: string }): string {
  const suffix = i === 'any' ? '@@any' : `@@shard.${i}`;
  const name = `${base}${suffix}`;
  if (Buffer.byteLength(name, 'utf8') <= AMQP_NAME_BYTES || !topic) return name;
  return `${topic.topic}@h-${sha1(topic.group)}${suffix}`;
}
