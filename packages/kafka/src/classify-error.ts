import { SwitchboardError, type ErrorCode } from '@switchboard/core';

interface KafkaLikeError {
  name?: string;
  message?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown[];
  code?: string;
}

/** kafkajs protocol error types (Kafka error names) -> Switchboard codes. */
const PROTOCOL_CODES: Readonly<Record<string, ErrorCode>> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'not_found',
  GROUP_ID_NOT_FOUND: 'not_found',
  MESSAGE_TOO_LARGE: 'payload_too_large',
  RECORD_LIST_TOO_LARGE: 'payload_too_large',
  INVALID_TOPIC_EXCEPTION: 'invalid_argument',
  INVALID_PARTITIONS: 'invalid_argument',
  INVALID_REPLICATION_FACTOR: 'invalid_argument',
  INVALID_CONFIG: 'invalid_argument',
  INVALID_REQUEST: 'invalid_argument',
  INVALID_RECORD: 'rejected',
  CORRUPT_MESSAGE: 'rejected',
  POLICY_VIOLATION: 'rejected',
  SASL_AUTHENTICATION_FAILED: 'auth',
  UNSUPPORTED_SASL_MECHANISM: 'auth',
  ILLEGAL_SASL_STATE: 'auth',
  TOPIC_AUTHORIZATION_FAILED: 'auth',
  GROUP_AUTHORIZATION_FAILED: 'auth',
  CLUSTER_AUTHORIZATION_FAILED: 'auth',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'auth',
  DELEGATION_TOKEN_AUTH_DISABLED: 'auth',
  REQUEST_TIMED_OUT: 'timeout',
  LEADER_NOT_AVAILABLE: 'connection',
  NOT_LEADER_FOR_PARTITION: 'connection',
  NOT_LEADER_OR_FOLLOWER: 'connection',
  BROKER_NOT_AVAILABLE: 'connection',
  NETWORK_EXCEPTION: 'connection',
  COORDINATOR_NOT_AVAILABLE: 'connection',
  GROUP_COORDINATOR_NOT_AVAILABLE: 'connection',
  NOT_COORDINATOR: 'connection',
  NOT_COORDINATOR_FOR_GROUP: 'connection',
  COORDINATOR_LOAD_IN_PROGRESS: 'connection',
  GROUP_LOAD_IN_PROGRESS: 'connection',
  NOT_ENOUGH_REPLICAS: 'connection',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'connection',
  KAFKA_STORAGE_ERROR: 'connection',
  REBALANCE_IN_PROGRESS: 'connection',
  ILLEGAL_GENERATION: 'connection',
  UNKNOWN_MEMBER_ID: 'connection',
};

/** Protocol errors that may succeed when repeated, whatever kafkajs says. */
const RETRYABLE_TYPES = new Set(['UNKNOWN_TOPIC_OR_PARTITION']);

/**
 * Maps any error kafkajs (or the network under it) throws to a {@link SwitchboardError}. The one
 * place where Kafka errors get their meaning:
 * - unknown topic/partition -> `not_found` (retryable: metadata may lag a creation);
 * - message / record list too large -> `payload_too_large`;
 * - SASL failures and authorization errors -> `auth`;
 * - connection errors, no broker, leader or coordinator moves -> `connection` (retryable);
 * - request timeouts and kafkajs timeouts -> `timeout`;
 * - `KafkaJSNumberOfRetriesExceeded` and aggregate errors are unwrapped to their cause.
 * SwitchboardErrors pass through unchanged. Messages never contain credentials (kafkajs does not
 * put them in errors; broker strings are host:port).
 */
export function classifyError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as KafkaLikeError;
  const name = e.name ?? '';
  const message = e.message ?? String(err);
  const make = (code: ErrorCode, retryable?: boolean) =>
    new SwitchboardError(code, `kafka: ${message}`, { cause: err, ...(retryable === undefined ? {} : { retryable }) });

  if (name === 'KafkaJSNumberOfRetriesExceeded' || name === 'KafkaJSNonRetriableError') {
    const inner = e.cause ?? e.originalError;
    if (inner && inner !== err && typeof inner === 'object') {
      const c = classifyError(inner);
      // Retries ran out: the caller may still try again later for transient codes.
      return new SwitchboardError(c.code, c.message, { cause: err, retryable: c.retryable, details: c.details });
    }
  }
  if (name === 'KafkaJSAggregateError' && Array.isArray(e.errors) && e.errors.length > 0) {
    return classifyError(e.errors[0]);
  }
  if (e.type && PROTOCOL_CODES[e.type]) {
    const code = PROTOCOL_CODES[e.type]!;
    return make(code, RETRYABLE_TYPES.has(e.type) || undefined);
  }
  switch (name) {
    case 'KafkaJSSASLAuthenticationError':
      return make('auth');
    case 'KafkaJSConnectionError':
    case 'KafkaJSConnectionClosedError':
    case 'KafkaJSNoBrokerAvailableError':
    case 'KafkaJSBrokerNotFound':
    case 'KafkaJSGroupCoordinatorNotFound':
    case 'KafkaJSMetadataNotLoaded':
      return make('connection');
    case 'KafkaJSTopicMetadataNotLoaded':
      return make('not_found', true);
    case 'KafkaJSRequestTimeoutError':
    case 'KafkaJSTimeout':
    case 'KafkaJSLockTimeout':
      return make('timeout');
    case 'KafkaJSOffsetOutOfRange':
      return make('invalid_argument');
    case 'KafkaJSServerDoesNotSupportApiKey':
    case 'KafkaJSNotImplemented':
      return make('unsupported');
    case 'KafkaJSInvalidLongError':
      return make('invalid_argument');
    default:
      break;
  }
  if (/SASL|[Aa]uthentication failed/.test(message)) return make('auth');
  if (typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE)$/.test(e.code)) {
    return make('connection');
  }
  if (/too large/i.test(message)) return make('payload_too_large');
  if (/This server does not host this topic-partition|does not host this topic/i.test(message)) return make('not_found', true);
  return make('internal', e.retriable === true ? true : undefined);
}
