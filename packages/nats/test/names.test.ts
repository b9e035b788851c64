import { SwitchboardError } from '@switchboard/core';
import { assertCoreName, assertDurableFits, assertJetStreamName, assertNatsName, coreSubject, durableName, encodeName, MAX_JETSTREAM_NAME_LENGTH, parseAckSubject, streamNames } from '../src/names';

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

  const codeOf = (f: () => void): string | undefined => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(SwitchboardError);
      return (e as SwitchboardError).code;
    }
    return undefined;
  };

  it('names - a name whose stream name would pass the server\'s 255 is invalid_argument up front, naming the limit (issue 11, defect 4)', () => {
    // 104 characters, 76 of them outside [A-Za-z0-9-]: 5 + 28 + 76 * 3 = 261 > 255.
    const name = `${'a~'.repeat(28)}${'~'.repeat(48)}`;
    expect(name).toHaveLength(104);
    expect(streamNames({ kind: 'queue', name }, 'SB', 'sb').stream.length).toBeGreaterThan(MAX_JETSTREAM_NAME_LENGTH);
    expect(codeOf(() => assertNatsName({ kind: 'queue', name }))).toBeUndefined();
    let err: SwitchboardError | undefined;
    try {
      assertJetStreamName({ kind: 'queue', name }, 'SB');
    } catch (e) {
      err = e as SwitchboardError;
    }
    expect(err?.code).toBe('invalid_argument');
    expect(err?.message).toContain('255');
    // Names that fit are accepted: 120 plain characters, 120 with 59 dots (5 + 61 + 59 * 3 = 243).
    expect(codeOf(() => assertJetStreamName({ kind: 'topic', name: 'x'.repeat(120) }, 'SB'))).toBeUndefined();
    const dotted = `${'a.'.repeat(59)}ab`;
    expect(dotted).toHaveLength(120);
    expect(codeOf(() => assertJetStreamName({ kind: 'topic', name: dotted }, 'SB'))).toBeUndefined();
    // The limit counts the stream prefix too: 83 escaped characters and a letter fit exactly with "SB", not with "SBX".
    const near = `${'~'.repeat(83)}a`;
    expect(streamNames({ kind: 'topic', name: near }, 'SB', 'sb').stream).toHaveLength(255);
    expect(codeOf(() => assertJetStreamName({ kind: 'topic', name: near }, 'SB'))).toBeUndefined();
    expect(codeOf(() => assertJetStreamName({ kind: 'topic', name: near }, 'SBX'))).toBe('invalid_argument');
  });

  it('names - a group whose durable consumer name would pass 255 is invalid_argument; queues share "mailbox"', () => {
    expect(codeOf(() => assertDurableFits({ kind: 'topic', name: 't' }, 'g'.repeat(200)))).toBeUndefined();
    expect(codeOf(() => assertDurableFits({ kind: 'topic', name: 't' }, '.'.repeat(85)))).toBe('invalid_argument');
    expect(codeOf(() => assertDurableFits({ kind: 'queue', name: 't' }, '.'.repeat(200)))).toBeUndefined();
  });

  it('names - distinct names never share a stream, subject or durable consumer', () => {
    const names = ['x.y', 'x_y', 'x-y', 'x_2Ey', 'x_5Fy', 'Ab', 'ab', 'AB', 'a.b.c', 'a.b_c', 'a_b.c', `${'n'.repeat(119)}1`, `${'n'.repeat(119)}2`];
    for (const kind of ['queue', 'topic'] as const) {
      const s = names.map((name) => streamNames({ kind, name }, 'SB', 'sb'));
      expect(new Set(s.map((x) => x.stream)).size).toBe(names.length);
      expect(new Set(s.map((x) => x.subject)).size).toBe(names.length);
    }
    const all = names.flatMap((name) => (['queue', 'topic'] as const).map((kind) => streamNames({ kind, name }, 'SB', 'sb')));
    expect(new Set(all.map((x) => x.stream)).size).toBe(all.length);
    expect(new Set(all.map((x) => x.subject)).size).toBe(all.length);
    // Topic + group composites live on the topic's own stream, so "a.b"+"c" and "a"+"b.c" differ by stream.
    const pair = (t: string, g: string) => `${streamNames({ kind: 'topic', name: t }, 'SB', 'sb').stream}/${durableName({ kind: 'topic', name: t }, g)}`;
    expect(pair('a.b', 'c')).not.toBe(pair('a', 'b.c'));
    expect(new Set(['g.1', 'g_1', 'g-1', 'G-1'].map((g) => durableName({ kind: 'topic', name: 't' }, g))).size).toBe(4);
  });

  it('names - core NATS: queue:x and topic:x get different subjects; topics cannot take a queue\'s or JetStream topic\'s subject, a reply inbox or a server subject', () => {
    expect(coreSubject({ kind: 'topic', name: 'orders.eu' }, 'sb')).toBe('orders.eu');
    expect(coreSubject({ kind: 'queue', name: 'orders.eu' }, 'sb')).toBe('sb.q.orders.eu');
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: 'sb.q.orders' }, 'sb'))).toBe('invalid_argument');
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: '_INBOX.abc.def' }, 'sb'))).toBe('invalid_argument');
    expect(codeOf(() => assertCoreName({ kind: 'queue', name: 'sb.q.orders' }, 'sb'))).toBeUndefined();
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: 'sb.t.orders' }, 'sb'))).toBe('invalid_argument');
    // JetStream's request subjects (sb.rq.<queue>, sb.rt.<topic>) on the same server
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: 'sb.rq.orders' }, 'sb'))).toBe('invalid_argument');
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: 'sb.rt.orders' }, 'sb'))).toBe('invalid_argument');
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: '$JS.API.STREAM.DELETE.SB_Q_x' }, 'sb'))).toBe('invalid_argument');
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: 'orders.$x' }, 'sb'))).toBeUndefined();
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: 'sbx.q.orders' }, 'sb'))).toBeUndefined();
    expect(codeOf(() => assertCoreName({ kind: 'topic', name: 'x'.repeat(121) }, 'sb'))).toBe('invalid_argument');
  });
});
