import { createHash } from 'node:crypto';
import type { Destination } from '@switchboard/core';
import { assertDestinationName } from '@switchboard/core/driver';

/**
 * Destination names: letters, digits and `. _ - : /`, at most 200 characters, not starting with
 * `amq.` (reserved by RabbitMQ). The 255-byte AMQP limit leaves room for the adapter's suffixes.
 */
export const NAME_PATTERN = /^(?!amq\.)[A-Za-z0-9._:/-]+$/;
export const NAME_MAX = 200;
export const NAME_RULE = 'RabbitMQ names here are 1-200 characters of letters, digits and . _ - : /, not starting with "amq."';

/** Throws `invalid_argument` (before any network effect) when the name breaks {@link NAME_RULE}. */
export function assertRabbitName(d: Destination): void {
  assertDestinationName(d, NAME_PATTERN, NAME_MAX, NAME_RULE);
}

const SAFE_GROUP = /^[A-Za-z0-9._:/-]{1,50}$/;

/** Durable queue that holds one subscription group of a topic: `<topic>@<group>` (`@` cannot occur in a destination name). */
export function groupQueueName(topic: string, group: string): string {
  const g = SAFE_GROUP.test(group) ? group : `h-${createHash('sha1').update(group).digest('hex')}`;
  return `${topic}@${g}`;
}

/** The stream that retains a topic's messages for replay. */
export function streamQueueName(topic: string): string {
  return `${topic}@@stream`;
}

/** Holds the committed stream offset of a group (a one-message queue). */
export function offsetQueueName(topic: string, group: string): string {
  return `${groupQueueName(topic, group)}@@offset`;
}

/** A TTL'd retry queue: messages wait `delayMs`, then dead-letter to their target. */
export function delayQueueName(target: { exchange: string; routingKey: string }, delayMs: number): string {
  const t = target.exchange === '' ? `q.${target.routingKey}` : `x.${target.exchange}`;
  const name = `sb.delay.${delayMs}.${t}`;
  return Buffer.byteLength(name) <= 255 ? name : `sb.delay.${delayMs}.h-${createHash('sha1').update(t).digest('hex')}`;
}
