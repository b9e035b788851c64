import { headers as natsHeaders, type Status } from '@nats-io/transport-node';
import { HEADERS, topic, queue } from '@switchboard/core';
import { foreignCoreId } from '../src/core-consumer';
import { foreignStoredId } from '../src/jetstream-consumer';
import { isPubAck, readHeaders } from '../src/messages';
import { durableName, requestSubject } from '../src/names';
import { groupOfDurable } from '../src/session';
import { describeStatus } from '../src/status';

const enc = new TextEncoder();

describe('wire - what foreign NATS clients send and see (issue 14)', () => {
  it('headers - a repeated name gives its first value, as NATS clients read it, for user and adapter headers alike', () => {
    const h = natsHeaders();
    h.append('x-tenant', 'first');
    h.append('x-tenant', 'second');
    h.append(HEADERS.key, 'k1');
    h.append(HEADERS.key, 'k2');
    h.append('Nats-Msg-Id', 'id-1');
    h.append('Nats-Msg-Id', 'id-2');
    const r = readHeaders(h);
    expect(r.user).toEqual({ 'x-tenant': 'first' });
    expect(r.key).toBe('k1');
    expect(r.id).toBe('id-1');
  });

  it('headers - adapter headers a foreign publisher got wrong never throw: bad sb-not-before is ignored, bad encodings kept as sent', () => {
    const h = natsHeaders();
    h.set(HEADERS.notBefore, 'soon');
    h.set('sb-encoded-headers', '%zz,x-a');
    h.set('x-a', '%E0%A4%A');
    h.set('x-b', 'plain');
    const r = readHeaders(h);
    expect(r.notBefore).toBeUndefined();
    expect(r.user).toEqual({ 'x-a': '%E0%A4%A', 'x-b': 'plain' });
  });

  it('ids - core NATS: a foreign message without an id gets a unique <subject>#<nuid>, never a per-session counter', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => foreignCoreId('sb.q.orders')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^sb\.q\.orders#[0-9A-Za-z]{22}$/);
  });

  it('ids - JetStream: <stream>:<seq>:<stream creation>, the same for one message, another for a stream made again', () => {
    const created = Date.parse('2026-11-30T10:00:00Z');
    expect(foreignStoredId('SB_Q_orders', 7, created)).toBe(foreignStoredId('SB_Q_orders', 7, created));
    expect(foreignStoredId('SB_Q_orders', 7, created)).toBe(`SB_Q_orders:7:${created.toString(36)}`);
    expect(foreignStoredId('SB_Q_orders', 1, created)).not.toBe(foreignStoredId('SB_Q_orders', 1, created + 1));
    expect(foreignStoredId('SB_Q_orders', 1, created)).not.toBe(foreignStoredId('SB_Q_orders', 2, created));
  });

  it('request/reply - a JetStream PubAck (or API error) on a reply inbox is never a reply; a real answer is', () => {
    expect(isPubAck(undefined, enc.encode('{"stream":"SB_Q_x","seq":4}'))).toBe(true);
    expect(isPubAck(undefined, enc.encode('{"stream":"SB_Q_x","seq":4,"duplicate":true}'))).toBe(true);
    expect(isPubAck(undefined, enc.encode('{"error":{"code":503,"err_code":10077,"description":"x"}}'))).toBe(true);
    expect(isPubAck(undefined, enc.encode('pong'))).toBe(false);
    expect(isPubAck(undefined, enc.encode('{"stream":"x","seq":4,"answer":1}'))).toBe(false);
    const h = natsHeaders();
    h.set(HEADERS.correlationId, 'c');
    expect(isPubAck(h, enc.encode('{"stream":"SB_Q_x","seq":4}'))).toBe(false);
  });

  it('request/reply - requests to a JetStream destination go to a core subject the stream does not capture', () => {
    expect(requestSubject(queue('a.b'), 'sb')).toBe('sb.rq.a.b');
    expect(requestSubject(topic('a.b'), 'sb')).toBe('sb.rt.a.b');
  });
});

describe('admin - group objects', () => {
  it('listObjects - a topic durable consumer names its group back; a queue consumer has none', () => {
    for (const g of ['g1', 'billing.eu', 'grüße', 'a_b-c']) expect(groupOfDurable(topic('t'), durableName(topic('t'), g))).toBe(g);
    expect(groupOfDurable(queue('q'), durableName(queue('q'), 'g'))).toBeUndefined();
    expect(groupOfDurable(topic('t'), 'someone-elses')).toBeUndefined();
  });
});

describe('diagnostics - NATS client status events', () => {
  it('report - a lost connection warns, a regained one informs, both as origin reconnect', () => {
    const lost = describeStatus({ type: 'disconnect', server: '127.0.0.1:4222' }, 'nats://127.0.0.1:4222')!;
    expect(lost.level).toBe('warn');
    expect(lost.report?.code).toBe('connection');
    expect(lost.state).toBe('lost');
    const back = describeStatus({ type: 'reconnect', server: '127.0.0.1:4222' }, 'nats://127.0.0.1:4222')!;
    expect(back.level).toBe('info');
    expect(back.report).toBeDefined();
    expect(back.state).toBe('regained');
  });

  it('log - other events go to the logger only, pings at debug', () => {
    const ping = describeStatus({ type: 'ping', pendingPings: 1 } as Status, 'u')!;
    expect(ping.level).toBe('debug');
    expect(ping.report).toBeUndefined();
    expect(describeStatus({ type: 'error', error: new Error('x') }, 'u')!.level).toBe('warn');
  });
});
