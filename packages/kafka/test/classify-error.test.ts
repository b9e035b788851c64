import { SwitchboardError } from '@switchboard/core';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError, KafkaJSSASLAuthenticationError, KafkaJSNonRetriableError } from 'kafkajs';
import { classifyError } from '@switchboard/kafka';

const protocol = (type: string, retriable = false) => new KafkaJSProtocolError({ message: `${type} happened`, type, code: 1, retriable } as never);

describe('classify-error - kafkajs errors to core codes', () => {
  test('unknown topic or partition is not_found and retryable', () => {
    const e = classifyError(protocol('UNKNOWN_TOPIC_OR_PARTITION', true));
    expect(e.code).toBe('not_found');
    expect(e.retryable).toBe(true);
  });
  test('message too large is payload_too_large', () => {
    expect(classifyError(protocol('MESSAGE_TOO_LARGE')).code).toBe('payload_too_large');
    expect(classifyError(protocol('RECORD_LIST_TOO_LARGE')).code).toBe('payload_too_large');
  });
  test('SASL and authorization failures are auth', () => {
    expect(classifyError(new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed')).code).toBe('auth');
    expect(classifyError(protocol('SASL_AUTHENTICATION_FAILED')).code).toBe('auth');
    expect(classifyError(protocol('TOPIC_AUTHORIZATION_FAILED')).code).toBe('auth');
  });
  test('connection errors and leader moves are connection, retryable', () => {
    const e = classifyError(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
    expect(e.code).toBe('connection');
    expect(e.retryable).toBe(true);
    expect(classifyError(protocol('LEADER_NOT_AVAILABLE', true)).code).toBe('connection');
    expect(classifyError(Object.assign(new Error('x'), { name: 'KafkaJSNoBrokerAvailableError' })).code).toBe('connection');
  });
  test('request timeouts are timeout', () => {
    expect(classifyError(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')).code).toBe('timeout');
  });
  test('retries exceeded is unwrapped to its cause', () => {
    const inner = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    const e = classifyError(new KafkaJSNumberOfRetriesExceeded(inner, { retryCount: 5, retryTime: 1000 }));
    expect(e.code).toBe('connection');
    expect(e.cause).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
    const wrapped = classifyError(new KafkaJSNonRetriableError(inner, { cause: inner }));
    expect(wrapped.code).toBe('connection');
  });
  test('aggregate errors use their first error', () => {
    const agg = Object.assign(new Error('many'), { name: 'KafkaJSAggregateError', errors: [protocol('TOPIC_AUTHORIZATION_FAILED')] });
    expect(classifyError(agg).code).toBe('auth');
  });
  test('SwitchboardErrors pass through; unknown errors are internal', () => {
    const sb = new SwitchboardError('closed', 'x');
    expect(classifyError(sb)).toBe(sb);
    expect(classifyError(new Error('boom')).code).toBe('internal');
    expect(classifyError('text').code).toBe('internal');
  });
  test('socket error codes are connection', () => {
    expect(classifyError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).code).toBe('connection');
  });
});
