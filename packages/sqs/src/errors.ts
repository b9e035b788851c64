import { SwitchboardError, type ErrorCode } from '@switchboard/core';

const NOT_FOUND = new Set([
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'NonExistentQueue',
  'NotFound',
  'NotFoundException',
  'ResourceNotFoundException',
]);

const INVALID = new Set([
  'InvalidParameterValue',
  'InvalidParameter',
  'InvalidParameterException',
  'InvalidAttributeName',
  'InvalidAttributeValue',
  'InvalidMessageContents',
  'MissingParameter',
  'ValidationError',
  'ValidationException',
  'InvalidBatchEntryId',
  'BatchEntryIdsNotDistinct',
  'EmptyBatchRequest',
  'TooManyEntriesInBatchRequest',
  'UnsupportedOperation',
  'InvalidAddress',
  'InvalidIdFormat',
  'ReceiptHandleIsInvalid',
  'MessageNotInflight',
  'QueueNameExists',
  'QueueAlreadyExists',
  'AWS.SimpleQueueService.QueueNameExists',
  'InvalidAction',
  'MalformedQueryString',
  'InvalidQueryParameter',
  'FilterPolicyLimitExceeded',
]);

const TOO_LARGE = new Set(['BatchRequestTooLong', 'AWS.SimpleQueueService.BatchRequestTooLong', 'RequestEntityTooLarge']);

const THROTTLED = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'OverLimit',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'KmsThrottled',
  'QueueDeletedRecently',
  'AWS.SimpleQueueService.QueueDeletedRecently',
  'PurgeQueueInProgress',
  'SlowDown',
]);

const UNAVAILABLE = new Set(['ServiceUnavailable', 'ServiceUnavailableException', 'InternalError', 'InternalFailure', 'InternalErrorException']);

const AUTH = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'AccessDeniedException',
  'AuthorizationError',
  'AuthorizationErrorException',
  'UnrecognizedClientException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'IncompleteSignature',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidAccessKeyId',
  'InvalidSecurity',
  'RequestExpired',
  'KmsAccessDenied',
  'CredentialsProviderError',
  'OptInRequired',
  'InvalidSignatureException',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const NETWORK_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'NetworkingError', 'SocketTimeout', 'ConnectTimeoutError']);

interface AwsLikeError {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  cause?: unknown;
}

/** The AWS error code of an SDK error: the error name, or the legacy `AWS.SimpleQueueService.X` code. */
function awsCodes(e: AwsLikeError): string[] {
  const out: string[] = [];
  for (const v of [e.name, e.Code, e.code]) if (typeof v === 'string' && v) out.push(v);
  for (const c of [...out]) {
    const m = /^AWS\.SimpleQueueService\.(.+)$/.exec(c);
    if (m?.[1]) out.push(m[1]);
  }
  return out;
}

function codeFor(e: AwsLikeError, depth: number): { code: ErrorCode; retryable?: boolean } | undefined {
  const codes = awsCodes(e);
  const has = (set: ReadonlySet<string>) => codes.some((c) => set.has(c));
  if (codes.includes('AbortError')) return { code: 'aborted' };
  if (has(AUTH)) return { code: 'auth' };
  if (has(NOT_FOUND)) return { code: 'not_found' };
  if (has(TOO_LARGE)) return { code: 'payload_too_large' };
  if (has(THROTTLED)) return { code: 'rejected', retryable: true };
  if (has(UNAVAILABLE)) return { code: 'connection', retryable: true };
  if (has(INVALID)) {
    const msg = typeof e.message === 'string' ? e.message : '';
    if (/too long|too large|exceeds.*size|size.*exceed|maximum.*bytes/i.test(msg)) return { code: 'payload_too_large' };
    return { code: 'invalid_argument' };
  }
  if (has(NETWORK_CODES) || has(NETWORK_NAMES)) return { code: 'connection' };
  const msg = typeof e.message === 'string' ? e.message : '';
  if (/could not load credentials|credential.*(missing|not found|expired)|security token.*(invalid|expired)/i.test(msg)) return { code: 'auth' };
  if (/socket hang up|connect ECONNREFUSED|getaddrinfo|network|ECONNRESET|timed? ?out/i.test(msg)) return { code: 'connection' };
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  if (status === 401 || status === 403) return { code: 'auth' };
  if (status === 404) return { code: 'not_found' };
  if (status === 413) return { code: 'payload_too_large' };
  if (status === 429) return { code: 'rejected', retryable: true };
  if (status !== undefined && status >= 500) return { code: 'connection', retryable: true };
  if (status !== undefined && status >= 400) return { code: 'invalid_argument' };
  if (depth < 3 && e.cause && typeof e.cause === 'object') return codeFor(e.cause as AwsLikeError, depth + 1);
  return undefined;
}

/**
 * Maps any error from the AWS SDK (SQS or SNS), the HTTP layer or credential providers to a
 * {@link SwitchboardError}, keeping the original as `cause`. SwitchboardErrors pass through.
 * - QueueDoesNotExist / NonExistentQueue / NotFound -> `not_found`
 * - InvalidParameterValue / InvalidAttributeName / validation errors -> `invalid_argument`
 *   (size complaints -> `payload_too_large`)
 * - Throttling / RequestThrottled / OverLimit / QueueDeletedRecently -> `rejected`, retryable
 * - ServiceUnavailable / InternalError / HTTP 5xx -> `connection`, retryable
 * - InvalidClientTokenId / SignatureDoesNotMatch / AccessDenied / missing credentials -> `auth`
 * - ECONNREFUSED, resets, DNS failures, TimeoutError (endpoint unreachable) -> `connection`
 * - AbortError -> `aborted`; anything else -> `internal`.
 * The message never holds credentials: SDK messages do not include secret keys.
 */
export function classifyError(err: unknown, context?: string): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  const e = (err && typeof err === 'object' ? err : { message: String(err) }) as AwsLikeError;
  const found = codeFor(e, 0);
  const name = awsCodes(e)[0];
  const text = typeof e.message === 'string' && e.message ? e.message : (name ?? String(err));
  const message = `${context ? `${context}: ` : ''}${name && !text.includes(name) ? `${name}: ` : ''}${text}`;
  const code = found?.code ?? 'internal';
  return new SwitchboardError(code, message, {
    cause: err,
    ...(found?.retryable !== undefined ? { retryable: found.retryable } : {}),
    details: name ? { awsCode: name } : {},
  });
}
