// The driver author's entry point (`@switchboard/core/driver`): the parts a backend package is
// built from. Applications import from '@switchboard/core'. See docs/writing-a-driver.md.
export { defineDriver, createConnection, registerDriver, isPerMessage, DEFAULT_CONNECT_TIMEOUT_MS } from './driver-connection';
export type { DriverDefinition, DriverSession, DriverHost, PublishOptions, PublishOutcomes, NamedOutcome, RequestMeta, ReplySink, Driver, ConnectOptions, DriverConnectOptions } from './driver-connection';
export { createDriverConsumer, type ConsumerDriver, type InboundMessage, type InboundSink, type ConsumerEngineContext } from './consumer-engine';
export { deadLetterHeaders, truncateReason, DEAD_LETTER_REASON_MAX, type DeadLetterInfo } from './dead-letter';
export { defineCapabilities, native, emulated, none } from './capabilities';
export { assertDestinationName } from './destination';
export { validateOptions, resolveConsumerOptions, consumerOptionsSchema, CONSUMER_DEFAULTS, type ResolvedConsumerOptions } from './options';
export { normalizeMessages, messageSize, assertMessageSizes, idFromBroker, type NormalizedMessage } from './message';
export { createReply, PendingReplies } from './request';
export { shardOf, fnv1a32 } from './shard';
export { Fifo } from './fifo';
export { readParamFile, readTlsFiles, tlsFailure, TLS_FILE_PARAMS, type TlsFileParams } from './tls';
export { addBackend, builtInBackend, type BackendInfo } from './backends';
