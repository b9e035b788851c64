import type { Capabilities } from '@switchboard/core';
import { defineCapabilities, emulated, native, none } from '@switchboard/core/driver';

const NO_LOG = 'SQS consumption is destructive: a deleted message is gone, there is no log to replay or position to keep';
const UNORDERED = 'standard SQS queues are unordered (best-effort order, duplicates possible); use FIFO mode (?fifo=true) or a destination whose name ends in .fifo';

const table = {
  fireAndForget: native('the message is queued for SendMessageBatch/PublishBatch and the send resolves without waiting for the response'),
  confirm: native('resolves with the SQS/SNS MessageId once the service accepted the message'),
  requestResponse: emulated('SQS has no reply convention: a reply queue per connection (deleted on close); the request carries the sb-reply-to (queue name or URL) and sb-correlation-id String attributes, the reply sb-correlation-id (see the README\'s Wire format)'),
  fanout: native('an SNS topic; each consumer group is an SQS queue subscribed to it (SNS envelope delivery: the SNS MessageId is one id in every group)'),
  competingConsumers: native('members of a group receive from one SQS queue'),
  headerFilter: native('SNS filter policy on message attributes (topic sources only; exact-match equality)'),
  mailbox: native('an SQS queue, created on first use'),
  prefetch: native('ReceiveMessage asks for at most prefetch minus unacked deliveries (10 per call)'),
  mailboxRequestResponse: emulated('request/response over an SQS queue through the per-connection reply queue'),
  polling: native('ReceiveMessage, up to 10 per call'),
  longPolling: native('ReceiveMessage WaitTimeSeconds in slices of receiveWaitSeconds; sub-second waits short-poll every 50 ms'),
  atMostOnce: native('messages are deleted (DeleteMessageBatch) before they are handed to the application'),
  atLeastOnce: native('DeleteMessage on ack; unacked messages reappear after the visibility timeout'),
  crashRedelivery: native('visibility timeout: messages of a dead consumer reappear after ackTimeoutMs'),
  dedup: emulated('standard queues: the dedup middleware (withDedup) on the consumer; FIFO destinations deduplicate natively (MessageDeduplicationId = message id, 5 minutes)'),
  orderingPerKey: none(UNORDERED),
  orderingPerKeyAfterNack: none(UNORDERED),
  orderingTotal: none(UNORDERED),
  replay: none(NO_LOG),
  replayFromPosition: none(NO_LOG),
  committedPosition: none(NO_LOG),
  ackTimeout: native('VisibilityTimeout of each ReceiveMessage call (whole seconds, rounded up, 1 s to 12 h): per member, the queue itself holds no timeout that applies'),
  extend: native('ChangeMessageVisibility'),
  nackDelay: native('ChangeMessageVisibility to the delay (rounded up to whole seconds, at most 12 h)'),
  deadLetter: emulated(
    'on the last failed attempt the consumer sends the message to the dead-letter queue with reason/attempt/source headers and deletes it; deliveries past maxAttempts (ApproximateReceiveCount) are moved on receive; per member (its own maxAttempts and deadLetter), no RedrivePolicy on the queue',
  ),
  reject: emulated('SendMessage to the dead-letter queue with the reason, then DeleteMessage'),
  delayedSend: emulated(
    'standard queues: DelaySeconds (native, rounded up to whole seconds, at most 900 s); SNS topics and FIFO queues: an earliest-delivery time in the metadata, consumers hide earlier messages with ChangeMessageVisibility',
  ),
  gracefulClose: native('close waits for handlers up to its deadline and for the receive in flight (one long-poll slice), then returns unsettled messages to the queue (visibility minRedeliverySeconds)'),
  reconnect: native('HTTP is stateless; the SDK retries failed calls and consumers keep polling with backoff, re-provisioning vanished queues'),
  connectionCut: native('each call opens or reuses an HTTP connection; cut connections are retried'),
  payloadLimit: native('256 KiB per message (encoded body plus attributes), checked before sending'),
  authentication: native('AWS Signature V4; refused credentials are auth errors'),
} as const;

const EMULATOR_AUTH = none(
  'custom endpoints (emulators such as fauxqs) accept any credentials; wrong credentials are reported as auth errors only by AWS itself',
);

/** What FIFO mode (`?fifo=true`) changes: every destination is a FIFO queue/topic. */
const fifoTable = {
  dedup: native('FIFO MessageDeduplicationId = message id: a resent id within 5 minutes is dropped by SQS/SNS'),
  orderingPerKey: native('FIFO MessageGroupId = key: one group is delivered in send order, one batch at a time'),
  orderingPerKeyAfterNack: native('a nack makes the FIFO message invisible for its delay; its message group stays blocked until it is received again'),
  orderingTotal: none('messages without a key get their own message group (parallelism); give all messages one key for total order'),
  delayedSend: emulated('FIFO queues have no per-message DelaySeconds: an earliest-delivery time in the metadata, consumers hide earlier messages with ChangeMessageVisibility (this holds back the rest of its message group)'),
} as const;

/** Capabilities against AWS itself (`sqs://<region>`), standard queues. */
export const SQS_CAPABILITIES: Capabilities = defineCapabilities(table);

/**
 * Capabilities against a custom endpoint (`sqs+http(s)://`): the same, except that credentials
 * are not checked by emulators such as fauxqs, so wrong credentials cannot be reported.
 */
export const SQS_ENDPOINT_CAPABILITIES: Capabilities = defineCapabilities({ ...table, authentication: EMULATOR_AUTH });

/** AWS in FIFO mode (`sqs://<region>?fifo=true`). */
export const SQS_FIFO_CAPABILITIES: Capabilities = defineCapabilities({ ...table, ...fifoTable });

/** A custom endpoint in FIFO mode (`sqs+http://host:port?fifo=true`). */
export const SQS_ENDPOINT_FIFO_CAPABILITIES: Capabilities = defineCapabilities({ ...table, ...fifoTable, authentication: EMULATOR_AUTH });

/** The table of a connection: by endpoint (AWS or custom) and mode (standard or FIFO). */
export function sqsCapabilities(customEndpoint: boolean, fifo = false): Capabilities {
  if (fifo) return customEndpoint ? SQS_ENDPOINT_FIFO_CAPABILITIES : SQS_FIFO_CAPABILITIES;
  return customEndpoint ? SQS_ENDPOINT_CAPABILITIES : SQS_CAPABILITIES;
}
