import { SwitchboardError } from '@switchboard/core';
import { classifyError } from '@switchboard/sqs';

const aws = (name: string, message = 'boom', status?: number) =>
  Object.assign(new Error(message), { name, $fault: 'client', $metadata: status === undefined ? {} : { httpStatusCode: status } });

describe('classifyError - AWS error names', () => {
  it.each([
    ['QueueDoesNotExist', 'not_found'],
    ['AWS.SimpleQueueService.NonExistentQueue', 'not_found'],
    ['NotFound', 'not_found'],
    ['InvalidParameterValue', 'invalid_argument'],
    ['InvalidAttributeName', 'invalid_argument'],
    ['ValidationError', 'invalid_argument'],
    ['InvalidParameter', 'invalid_argument'],
    ['BatchRequestTooLong', 'payload_too_large'],
    ['InvalidClientTokenId', 'auth'],
    ['SignatureDoesNotMatch', 'auth'],
    ['AccessDenied', 'auth'],
    ['AuthorizationError', 'auth'],
    ['CredentialsProviderError', 'auth'],
    ['TimeoutError', 'connection'],
    ['AbortError', 'aborted'],
  ] as const)('%s -> %s', (name, code) => {
    const e = classifyError(aws(name));
    expect(e).toBeInstanceOf(SwitchboardError);
    expect(e.code).toBe(code);
    expect(e.cause).toBeDefined();
  });

  it.each(['Throttling', 'RequestThrottled', 'OverLimit', 'ThrottlingException'])('%s is retryable', (name) => {
    const e = classifyError(aws(name));
    expect(e.retryable).toBe(true);
    expect(e.code).toBe('rejected');
  });

  it('maps a size complaint under InvalidParameter to payload_too_large', () => {
    expect(classifyError(aws('InvalidParameter', 'Invalid parameter: Message too long')).code).toBe('payload_too_large');
  });
});

describe('classifyError - network and HTTP', () => {
  it('maps ECONNREFUSED to a retryable connection error', () => {
    const e = classifyError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    expect(e.code).toBe('connection');
    expect(e.retryable).toBe(true);
  });

  it('looks through causes', () => {
    const inner = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    expect(classifyError(new Error('outer', { cause: inner })).code).toBe('connection');
  });

  it.each([
    [403, 'auth'],
    [404, 'not_found'],
    [429, 'rejected'],
    [503, 'connection'],
    [400, 'invalid_argument'],
  ] as const)('HTTP %s -> %s', (status, code) => {
    expect(classifyError(aws('Unknown', 'x', status)).code).toBe(code);
  });

  it('passes SwitchboardErrors through and wraps the rest as internal', () => {
    const sb = new SwitchboardError('timeout', 't');
    expect(classifyError(sb)).toBe(sb);
    expect(classifyError('weird').code).toBe('internal');
  });

  it('adds context to the message', () => {
    expect(classifyError(aws('QueueDoesNotExist', 'The specified queue does not exist.'), 'queue q1').message).toContain('queue q1');
  });
});
