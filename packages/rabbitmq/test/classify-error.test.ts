import { SwitchboardError } from '@switchboard/core';
import { classifyError } from '../src/classify-error';

function amqpError(message: string, code?: number | string): Error {
  const e = new Error(message) as Error & { code?: number | string };
  if (code !== undefined) e.code = code;
  return e;
}

describe('classifyError - maps amqplib errors to core codes', () => {
  it.each([
    ['Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"', undefined, 'auth'],
    ['Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no queue \'x\' in vhost \'/\'"', 404, 'not_found'],
    ['Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg \'durable\' for queue \'q\'"', 406, 'configuration'],
    ['Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - unknown delivery tag 1"', 406, 'invalid_argument'],
    ['Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - message size 200 is larger than configured max size 100"', 406, 'payload_too_large'],
    ['Connection closed: 501 (FRAME-ERROR) with message "FRAME_ERROR"', 501, 'payload_too_large'],
    ['Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - broker forced connection closure with reason \'shutdown\'"', 320, 'connection'],
    ['Handshake terminated by server: 530 (NOT-ALLOWED) with message "NOT_ALLOWED - access to vhost \'nope\' refused for user \'guest\'"', undefined, 'auth'],
    ['connect ECONNREFUSED 127.0.0.1:5672', 'ECONNREFUSED', 'connection'],
    ['connect ETIMEDOUT', undefined, 'connection'],
    ['Socket closed abruptly during opening handshake', undefined, 'connection'],
    ['Heartbeat timeout', undefined, 'connection'],
    ['channel closed', undefined, 'connection'],
    ['message nacked', undefined, 'rejected'],
    ['something odd', undefined, 'internal'],
  ])('%s -> %s', (message, code, expected) => {
    const err = classifyError(amqpError(message, code));
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe(expected);
    expect(err.cause).toBeDefined();
  });

  it('treats connection errors as retryable and auth errors as not', () => {
    expect(classifyError(amqpError('connect ECONNREFUSED', 'ECONNREFUSED')).retryable).toBe(true);
    expect(classifyError(amqpError('403 (ACCESS-REFUSED)')).retryable).toBe(false);
  });

  it('treats a negative publisher confirm as retryable: the broker did not store the message, and may later', () => {
    expect(classifyError(amqpError('message nacked'))).toMatchObject({ code: 'rejected', retryable: true });
  });

  it('maps an IllegalOperationError (closed channel) to connection', () => {
    const e = new Error('Channel closed');
    e.name = 'IllegalOperationError';
    expect(classifyError(e).code).toBe('connection');
  });

  it('maps the header-table RangeError of amqplib to payload_too_large', () => {
    expect(classifyError(new RangeError('headers table exceeds the 64 KiB encoding buffer')).code).toBe('payload_too_large');
  });

  it('passes SwitchboardErrors through unchanged', () => {
    const e = new SwitchboardError('timeout', 'x');
    expect(classifyError(e)).toBe(e);
  });

  it('accepts non-Error values', () => {
    expect(classifyError('boom').code).toBe('internal');
    expect(classifyError(undefined).code).toBe('internal');
  });
});
