/**
 * @switchboard/sqs: Switchboard over AWS SQS queues and SNS topics (fanned out to one SQS queue
 * per consumer group). URLs: `sqs://<region>` for AWS, `sqs+http://host:port?region=...` or
 * `sqs+https://host` for a custom endpoint (e.g. the fauxqs emulator).
 *
 * Importing this package registers its driver, so `connect('sqs+http://...')` finds it; or pass
 * it explicitly: `connect(url, { drivers: [driver] })`.
 */
import { parseUrl, type Connection } from '@switchboard/core';
import { builtInBackend, defineDriver, registerDriver, type Driver } from '@switchboard/core/driver';
import type { SqsOptions } from './options';
import { openSqsSession } from './session';

/** An SQS + SNS connection. */
export interface SqsConnection extends Connection {
  readonly backend: 'sqs';
}

/** The driver `connect()` uses for `sqs://`, `sqs+http://` and `sqs+https://`; registered on import. */
export const driver: Driver = defineDriver({
  ...builtInBackend('sqs'),
  open: openSqsSession,
});

registerDriver(driver);

/**
 * Typed factory: `connectSqs('sqs+http://127.0.0.1:4566?region=us-east-1')` or
 * `connectSqs('sqs://eu-west-1', { prefix: 'myapp-' })`. Same contract as `connect()`: rejects
 * with `configuration` (bad URL or options, every problem listed), `connection` (unreachable
 * within connectTimeoutMs) or `auth` (credentials refused).
 */
export async function connectSqs(url: string, options: SqsOptions = {}): Promise<SqsConnection> {
  return (await driver.connect(parseUrl(url), { ...options })) as SqsConnection;
}

export { SQS_CAPABILITIES, SQS_ENDPOINT_CAPABILITIES, SQS_FIFO_CAPABILITIES, SQS_ENDPOINT_FIFO_CAPABILITIES, sqsCapabilities } from './capabilities';
export { classifyError } from './errors';
export { resolveSqsOptions, type SqsOptions, type ResolvedSqsOptions, type SqsCredentials } from './options';
export {
  META_ATTRIBUTE,
  WIRE,
  BINARY_MARKER,
  MAX_ATTRIBUTES,
  MAX_HEADERS,
  DEFAULT_MAX_PAYLOAD_BYTES,
  encodeMessage,
  decodeMessage,
  type SqsMeta,
  type EncodedMessage,
  type DecodedMessage,
} from './codec';
export { physicalName, groupQueueName, groupOfQueue, assertValidDestination, encodeNameBase, decodeDottedBase, fifoToken, type PhysicalName } from './names';

declare module '@switchboard/core' {
  interface BackendConnectOptions {
    /**
     * Options of sqs:// and sqs+http:// connections (see {@link SqsOptions}), used when the URL selects this
     * backend: `connect(url, { sqs: { … } })`.
     */
    sqs?: SqsOptions;
  }
}
