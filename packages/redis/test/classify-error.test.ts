import { SwitchboardError } from '@switchboard/core';
import { ClientClosedError, ConnectionTimeoutError, ErrorReply, SocketClosedUnexpectedlyError } from '@redis/client';
import { classifyError } from '../src/classify-error';
import { redisCapabilities } from '../src/capabilities';

describe('classifyError - Redis replies and client errors as Switchboard codes', () => {
  it.each([
    ['WRONGPASS invalid username-password pair or user is disabled.', 'auth'],
    ['NOAUTH Authentication required.', 'auth'],
    ['NOPERM this user has no permissions', 'auth'],
    ['NOGROUP No such key \'sb:q:x\' or consumer group \'sb\'', 'not_found'],
    ['WRONGTYPE Operation against a key holding the wrong kind of value', 'invalid_argument'],
    ['OOM command not allowed when used memory > \'maxmemory\'.', 'rejected'],
    ['LOADING Redis is loading the dataset in memory', 'connection'],
    ['ERR Protocol error: invalid bulk length', 'invalid_argument'],
    ['ERR no such key', 'not_found'],
    ['ERR something new', 'internal'],
  ])('reply %s -> %s', (message, code) => {
    expect(classifyError(new ErrorReply(message)).code).toBe(code);
  });

  it('client errors - a lost or unreachable server is a retryable connection error; a closed client is closed', () => {
    for (const e of [new SocketClosedUnexpectedlyError(), new ConnectionTimeoutError(), Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })]) {
      const s = classifyError(e);
      expect(s.code).toBe('connection');
      expect(s.retryable).toBe(true);
      expect(s.cause).toBe(e);
    }
    expect(classifyError(new ClientClosedError()).code).toBe('closed');
  });

  it('passes SwitchboardErrors through', () => {
    const e = new SwitchboardError('timeout', 'x');
    expect(classifyError(e)).toBe(e);
  });
});

describe('capabilities - honest table', () => {
  it('every emulation names its mechanism and every none its reason', () => {
    for (const [name, s] of Object.entries(redisCapabilities)) {
      if (s.level === 'emulated') expect([name, s.note.length > 30]).toEqual([name, true]);
      if (s.level === 'none') expect([name, s.reason.length > 30]).toEqual([name, true]);
    }
    expect(redisCapabilities.orderingPerKey.level).toBe('none');
    expect(redisCapabilities.delayedSend).toEqual(expect.objectContaining({ level: 'emulated', note: expect.stringMatching(/sorted set/) }));
  });
});

describe('classifyError - TLS', () => {
  test('classifyError - an untrusted certificate, also inside the reconnect strategy error of node-redis, is a connection error that is not retryable', () => {
    const handshake = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const gaveUp = Object.assign(new Error(handshake.message), { originalError: handshake });
    for (const err of [handshake, gaveUp]) {
      const e = classifyError(err);
      expect(e).toMatchObject({ code: 'connection', retryable: false });
      expect(e.message).toMatch(/TLS handshake failed \(SELF_SIGNED_CERT_IN_CHAIN/);
    }
  });
});
