// The application entry point: what an app uses to send, consume and handle errors.
// Driver authors import from '@switchboard/core/driver' instead.
export * from './errors';
export { CAPABILITIES, isSupported, requireCapability, type Capabilities, type CapabilityName, type Support } from './capabilities';
export type * from './types';
export { parseUrl, redactUrl, formatHosts, type ParsedUrl, type HostPort } from './url';
export { queue, topic, toDestination, formatDestination } from './destination';
export { toBytes, bytesToText } from './message';
export { HEADERS } from './headers';
export { DEAD_LETTER_REASON_MAX } from './dead-letter';
export { DEFAULT_REQUEST_TIMEOUT_MS } from './request';
export { DEFAULT_CLOSE_TIMEOUT_MS } from './options';
export { connect, registerDriver, type Driver, type ConnectOptions, type BackendConnectOptions } from './connect';
export { jsonSerializer, isStandardSchema, type Serializer, type Schema, type TypedDelivery, type TypedMessage, type TypedProducer } from './typed';
export { silentLogger, type Logger, type ErrorEvent, type ErrorOrigin, type DiagnosticsOptions } from './diagnostics';
export { listBackends, backendForScheme, backendByName, backendLabel, defaultPortFor, type BackendInfo, type BackendVariant } from './backends';
export { withRetry, retry, backoffDelay, type RetryOptions } from './middleware/retry';
export { withDedup, MemoryDedupStore, type DedupStore, type DedupOptions } from './middleware/dedup';
