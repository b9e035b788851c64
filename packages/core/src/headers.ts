/**
 * Header names Switchboard itself writes. Adapters use these so dead letters and requests look the
 * same on every backend.
 */
export const HEADERS = {
  /** The message id, where the broker has no id field of its own. */
  messageId: 'sb-message-id',
  replyTo: 'sb-reply-to',
  correlationId: 'sb-correlation-id',
  /** On dead letters: why the message was dead-lettered (the last error or the reject reason). */
  deadLetterReason: 'sb-dead-letter-reason',
  /** On dead letters: how many times it was delivered. */
  deadLetterAttempts: 'sb-dead-letter-attempts',
  /** On dead letters: where it came from. */
  deadLetterSource: 'sb-dead-letter-source',
  /** On dead letters: the broker reference it had there (offset, sequence). */
  deadLetterSourceRef: 'sb-dead-letter-source-ref',
  /** Delivery attempt carried through retry topics/queues, where the broker does not count. */
  attempt: 'sb-attempt',
  /** Earliest delivery time (ms since epoch) for emulated delays. */
  notBefore: 'sb-not-before',
  /** Message key, where the broker has no key field. */
  key: 'sb-key',
} as const;
