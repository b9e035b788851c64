import { HEADERS } from './headers';
import type { Headers } from './types';

/** Longest dead-letter reason kept; longer ones are cut, so a stack trace cannot overflow a header limit. */
export const DEAD_LETTER_REASON_MAX = 4000;

/** What core knows about a message it dead-letters. */
export interface DeadLetterInfo {
  /** Why: the last handler error, `rejected: <reason>`, or the ack timeout. */
  readonly reason: string;
  /** Deliveries so far, this one included. */
  readonly attempts: number;
  /** Where it came from, as `kind:name`. */
  readonly source: string;
  /** The broker reference it had there (offset, sequence, receipt). */
  readonly sourceRef: string;
}

/**
 * The headers a dead letter carries, the same on every backend: the message's own headers, then
 * `sb-dead-letter-reason` (cut to {@link DEAD_LETTER_REASON_MAX} characters), `-attempts`, `-source`
 * and `-source-ref`. A driver writes exactly these onto the copy it stores.
 */
export function deadLetterHeaders(original: Headers, info: DeadLetterInfo): Headers {
  return {
    ...original,
    [HEADERS.deadLetterReason]: truncateReason(info.reason),
    [HEADERS.deadLetterAttempts]: String(info.attempts),
    [HEADERS.deadLetterSource]: info.source,
    [HEADERS.deadLetterSourceRef]: info.sourceRef,
  };
}

/** Cuts a reason to {@link DEAD_LETTER_REASON_MAX} characters, marking the cut. */
export function truncateReason(reason: string): string {
  if (reason.length <= DEAD_LETTER_REASON_MAX) return reason;
  return `${reason.slice(0, DEAD_LETTER_REASON_MAX - 1)}…`;
}
