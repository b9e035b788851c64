/**
 * Deliberate defects, for proving that the conformance suite catches them. Never set these in an
 * application: each one breaks a promise the memory backend otherwise keeps.
 */
export interface MemoryFaults {
  /** Confirm every message but silently drop one in N. */
  dropOneIn?: number;
  /** Store every second message of a key before the one sent just ahead of it. */
  reorderKeys?: boolean;
  /** Treat a nack as an ack: the message is never delivered again. */
  neverRedeliverNacked?: boolean;
  /** Ignore prefetch: hand a consumer everything available. */
  ignorePrefetch?: boolean;
  /** Ignore `delayMs` on send and nack: deliver at once. */
  deliverDelayedEarly?: boolean;
  /** Dead-letter a message and deliver it again anyway. */
  redeliverDeadLettered?: boolean;
  /** Append duplicates that the dedup window should have dropped. */
  ignoreDedupWindow?: boolean;
}

export const FAULT_NAMES = [
  'dropOneIn',
  'reorderKeys',
  'neverRedeliverNacked',
  'ignorePrefetch',
  'deliverDelayedEarly',
  'redeliverDeadLettered',
  'ignoreDedupWindow',
] as const satisfies readonly (keyof MemoryFaults)[];
