import { errors } from '@nats-io/nats-core';
import { JetStreamApiError } from '@nats-io/jetstream';
import { SwitchboardError } from '@switchboard/core';
import { classifyError } from '../src/errors';

describe('classifyError - NATS client errors to core codes', () => {
  it('maps no responders, alone or as the cause of a RequestError', () => {
    expect(classifyError(new errors.NoRespondersError('svc')).code).toBe('no_responders');
    expect(classifyError(new errors.RequestError('request failed', { cause: new errors.NoRespondersError('svc') })).code).toBe('no_responders');
    expect(classifyError({ name: 'Error', message: 'x', code: 503 }).code).toBe('no_responders');
  });

  it('maps timeouts', () => {
    expect(classifyError(new errors.TimeoutError()).code).toBe('timeout');
    expect(classifyError(new errors.RequestError('request failed', { cause: new errors.TimeoutError() })).code).toBe('timeout');
    expect(classifyError(new errors.TimeoutError()).retryable).toBe(true);
  });

  it('maps permission and authorization violations to auth, not retryable', () => {
    const perm = new errors.PermissionViolationError("Permissions Violation for Publish to 'x'", 'publish', 'x');
    expect(classifyError(perm).code).toBe('auth');
    expect(classifyError(new errors.AuthorizationError('Authorization Violation')).code).toBe('auth');
    expect(classifyError(new Error("'Authorization Violation'")).code).toBe('auth');
    expect(classifyError(new errors.AuthorizationError('Authorization Violation')).retryable).toBe(false);
  });

  it('classifyError - stream and consumer names too long for the server are invalid_argument, not internal', () => {
    const api = (err_code: number, description: string) => new JetStreamApiError({ code: 400, err_code, description });
    expect(classifyError(api(10052, 'stream name is too long, maximum allowed is 255')).code).toBe('invalid_argument');
    expect(classifyError(api(10102, 'consumer name is too long, maximum allowed is 255')).code).toBe('invalid_argument');
  });

  it('classifyError - "JetStream not enabled" once connected is a retryable connection error (a restarting server), not unsupported', () => {
    const api = new JetStreamApiError({ code: 503, err_code: 10039, description: 'jetstream not enabled' });
    expect(classifyError(api).code).toBe('connection');
    expect(classifyError(api).retryable).toBe(true);
    expect(classifyError(new Error('jetstream is not enabled')).code).toBe('connection');
  });

  it('maps stream and consumer not found to not_found', () => {
    const api = (err_code: number, description: string) => new JetStreamApiError({ code: 404, err_code, description });
    expect(classifyError(api(10059, 'stream not found')).code).toBe('not_found');
    expect(classifyError(api(10014, 'consumer not found')).code).toBe('not_found');
  });

  it('maps maximum payload violations to payload_too_large', () => {
    expect(classifyError(new errors.ProtocolError('Maximum Payload Violation')).code).toBe('payload_too_large');
  });

  it('maps refused and lost connections to connection, closed ones to closed', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4222'), { code: 'ECONNREFUSED' });
    expect(classifyError(refused).code).toBe('connection');
    expect(classifyError(new errors.ConnectionError('connection refused')).code).toBe('connection');
    expect(classifyError(new errors.ClosedConnectionError()).code).toBe('closed');
    expect(classifyError(new errors.DrainingConnectionError()).code).toBe('closed');
  });

  it('maps bad subjects to invalid_argument and the rest to internal, keeping the cause', () => {
    expect(classifyError(new errors.InvalidSubjectError('a..b')).code).toBe('invalid_argument');
    const odd = new Error('something odd');
    const e = classifyError(odd);
    expect(e.code).toBe('internal');
    expect(e.cause).toBe(odd);
    expect(e).toBeInstanceOf(SwitchboardError);
  });

  it('passes SwitchboardErrors through', () => {
    const e = new SwitchboardError('closed', 'gone');
    expect(classifyError(e)).toBe(e);
  });
});
