import { SwitchboardError } from './errors';
import type { Destination, DestinationLike } from './types';

/** A queue (mailbox) destination. */
export const queue = (name: string): Destination => ({ kind: 'queue', name });
/** A topic (fan-out) destination. */
export const topic = (name: string): Destination => ({ kind: 'topic', name });

/**
 * Normalizes `"topic:x"`, `"queue:x"`, a bare name (a queue) or a Destination. Throws
 * `invalid_argument` for an empty or non-string name.
 */
export function toDestination(d: DestinationLike): Destination {
  if (typeof d === 'string') {
    if (d.startsWith('topic:')) return checkName({ kind: 'topic', name: d.slice(6) });
    if (d.startsWith('queue:')) return checkName({ kind: 'queue', name: d.slice(6) });
    return checkName({ kind: 'queue', name: d });
  }
  if (d === null || typeof d !== 'object' || (d.kind !== 'queue' && d.kind !== 'topic')) {
    throw new SwitchboardError('invalid_argument', 'a destination is "topic:<name>", "queue:<name>", a name, or { kind, name }');
  }
  return checkName(d);
}

function checkName(d: Destination): Destination {
  if (typeof d.name !== 'string' || d.name.length === 0) {
    throw new SwitchboardError('invalid_argument', `destination name must be a non-empty string (got ${JSON.stringify(d.name)})`);
  }
  return d;
}

export function formatDestination(d: Destination): string {
  return `${d.kind}:${d.name}`;
}

/**
 * Checks a name against a backend's rule and throws `invalid_argument` naming the rule.
 * Adapters call this before any network effect.
 */
export function assertDestinationName(d: Destination, pattern: RegExp, maxLength: number, rule: string): void {
  if (d.name.length > maxLength || !pattern.test(d.name)) {
    throw new SwitchboardError('invalid_argument', `invalid ${d.kind} name "${d.name.slice(0, 300)}": ${rule}`, {
      details: { destination: d.name.slice(0, 300) },
    });
  }
}
