import { SwitchboardError, type Destination } from '@switchboard/core';
import { assertDestinationName } from '@switchboard/core/driver';

/**
 * Destination names become NATS subject tokens: printable ASCII without whitespace or wildcards,
 * dot-separated tokens that are never empty. Stream and consumer names are derived from them by
 * {@link encodeName}, so the name rule is the subject rule.
 */
const NAME_PATTERN = /^[!-~]+$/;
export const MAX_NAME_LENGTH = 120;
const NAME_RULE = `at most ${MAX_NAME_LENGTH} characters of NATS subject: printable ASCII, no whitespace, no wildcards (* >), no empty "."-separated tokens`;

export function assertNatsName(d: Destination): void {
  const ok = NAME_PATTERN.test(d.name) && !/[*>]/.test(d.name) && d.name.split('.').every((t) => t.length > 0);
  assertDestinationName(d, ok ? NAME_PATTERN : /(?!)/, MAX_NAME_LENGTH, NAME_RULE);
}

const GROUP_RULE = /^[!-~]+$/;

/** A group name becomes a durable consumer name (encoded) or a queue group name (as is). */
export function assertGroupName(group: string): boolean {
  return GROUP_RULE.test(group) && !/[*>]/.test(group);
}

/**
 * Encodes any printable name into the character set of stream and consumer names
 * ([A-Za-z0-9-] plus "_"), injectively: every other byte becomes "_" and two hex digits.
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

export function streamNames(d: Destination, streamPrefix: string, subjectPrefix: string): StreamNames {
  const k = d.kind === 'queue' ? 'Q' : 'T';
  return {
    stream: `${streamPrefix}_${k}_${encodeName(d.name)}`,
    subject: `${subjectPrefix}.${k.toLowerCase()}.${d.name}`,
  };
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
