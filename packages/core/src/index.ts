export * from './errors';
export * from './capabilities';
export type * from './types';
export { parseUrl, redactUrl, formatHosts, type ParsedUrl, type HostPort } from './url';
export { queue, topic, toDestination, formatDestination, assertDestinationName } from './destination';
export {
  validateOptions,
  resolveConsumerOptions,
  validateSendOptions,
  consumerOptionsSchema,
  CONSUMER_DEFAULTS,
  z,
  type ResolvedConsumerOptions,
} from './options';
export { toBytes, bytesToText, normalizeMessages, messageSize, assertMessageSizes, type NormalizedMessage } from './message';
export { createDelivery, type DeliverySettler, type DeliveryInit } from './delivery';
export { createConsumer, type ConsumerParts, type PushHandle } from './consumer';
export { PendingReplies, createReply, DEFAULT_REQUEST_TIMEOUT_MS } from './request';
export { HEADERS } from './headers';
export { connect, registerDriver, DEFAULT_DRIVER_PACKAGES, type Driver, type ConnectOptions } from './connect';
export { withRetry, retry, backoffDelay, type RetryOptions } from './middleware/retry';
export { withDedup, MemoryDedupStore, type DedupStore, type DedupOptions } from './middleware/dedup';
