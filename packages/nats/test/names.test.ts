import { SwitchboardError } from '@switchboard/core';
import { assertNatsName, durableName, encodeName, parseAckSubject, streamNames } from '../src/names';

describe('names - destination rules, stream names, ack subjects', () => {
  it('accepts subject-like names and refuses whitespace, wildcards and empty tokens', () => {
    for (const name of ['orders', 'orders.eu', 'a-b_c', 'x-dlq']) expect(() => assertNatsName({ kind: 'queue', name })).not.toThrow();
    for (const name of ['has space', 'a.*', 'a.>', 'a..b', '.a', 'a.', 'tab\there', 'x'.repeat(121)]) {
      let err: unknown;
      try {
        assertNatsName({ kind: 'topic', name });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SwitchboardError);
      expect((err as SwitchboardError).code).toBe('invalid_argument');
    }
  });

  it('encodes names injectively into stream-name characters', () => {
    expect(encodeName('orders')).toBe('orders');
    expect(encodeName('a.b')).toBe('a_2Eb');
    expect(encodeName('a_2Eb')).toBe('a_5F2Eb');
    expect(encodeName('a.b')).not.toBe(encodeName('a_b'));
    expect(encodeName('grüß')).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('keeps queues and topics of one name apart', () => {
    const q = streamNames({ kind: 'queue', name: 'x.y' }, 'SB', 'sb');
    const t = streamNames({ kind: 'topic', name: 'x.y' }, 'SB', 'sb');
    expect(q).toEqual({ stream: 'SB_Q_x_2Ey', subject: 'sb.q.x.y' });
    expect(t).toEqual({ stream: 'SB_T_x_2Ey', subject: 'sb.t.x.y' });
    expect(durableName({ kind: 'queue', name: 'x' }, 'g1')).toBe(durableName({ kind: 'queue', name: 'x' }, 'g2'));
    expect(durableName({ kind: 'topic', name: 'x' }, 'g1')).not.toBe(durableName({ kind: 'topic', name: 'x' }, 'g2'));
  });

  it('parses v1 and v2 ack subjects', () => {
    expect(parseAckSubject('$JS.ACK.S.C.3.17.9.1700000000000000000.4')).toMatchObject({ stream: 'S', consumer: 'C', deliveryCount: 3, streamSequence: 17, pending: 4 });
    expect(parseAckSubject('$JS.ACK.hub.ACCHASH.S.C.2.5.5.1700000000000000000.0.token')).toMatchObject({ stream: 'S', consumer: 'C', deliveryCount: 2, streamSequence: 5 });
    expect(parseAckSubject('_INBOX.abc')).toBeUndefined();
  });
});
