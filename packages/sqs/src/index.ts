/**
 * @switchboard/sqs: Switchboard over AWS SQS queues and SNS topics (fanned out to one SQS queue
 * per consumer group). URLs: `sqs://<region>` for AWS, `sqs+http://host:port?region=...` or
 * `sqs+https://host` for a custom endpoint (e.g. the fauxqs emulator).
 */
export { driver, connectSqs, connectSqsParsed, type SqsConnection } from './connection';
export { SQS_CAPABILITIES, SQS_ENDPOINT_CAPABILITIES, SQS_FIFO_CAPABILITIES, SQS_ENDPOINT_FIFO_CAPABILITIES, sqsCapabilities } from './capabilities';
export { classifyError } from './errors';
export { resolveSqsOptions, type SqsOptions, type ResolvedSqsOptions, type SqsCredentials } from './options';
export {
  META_ATTRIBUTE,
  MAX_ATTRIBUTES,
  MAX_HEADERS,
  DEFAULT_MAX_PAYLOAD_BYTES,
  encodeMessage,
  decodeMessage,
  type SqsMeta,
  type EncodedMessage,
  type DecodedMessage,
} from './codec';
export { physicalName, groupQueueName, assertValidDestination, fifoToken, type PhysicalName } from './names';
