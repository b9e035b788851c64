import path from 'node:path';
import { HEADERS, SwitchboardError } from '@switchboard/core';
import { normalizeMessages } from '@switchboard/core/driver';
import type { Options } from 'amqplib';
import {
  AMQPLIB_TABLE_BUFFER,
  assertSendable,
  encodedPropertiesSize,
  encodedTableSize,
  fitHeaders,
  HEADER_FRAME_OVERHEAD,
  HEADER_RESERVE,
  headerTableLimit,
  publishOptions,
} from '../src/codec';
import { assertDelay, DELAY_QUEUE_IDLE_MS, MAX_DELAY_MS } from '../src/topology';

// amqplib's own encoders (not in its export map), so the sizes are checked against the client itself.
const lib = path.join(path.dirname(require.resolve('amqplib')), 'lib');
/* eslint-disable @typescript-eslint/no-require-imports */
const defs = require(path.join(lib, 'defs.js')) as { BasicProperties: number; encodeProperties(id: number, ch: number, size: number, fields: unknown): Buffer };
const args = require(path.join(lib, 'api_args.js')) as { publish(x: string, rk: string, o: Options.Publish): unknown };
const codec = require(path.join(lib, 'codec.js')) as { encodeTable(b: Buffer, v: unknown, offset: number): number };

/** The content header frame amqplib builds for these publish options. */
function headerFrame(o: Options.Publish): Buffer {
  return defs.encodeProperties(defs.BasicProperties, 1, 3, args.publish('x', 'rk', o));
}

function message(headers: Record<string, string>, id = 'm-1', key: string | undefined = 'k') {
  return normalizeMessages({ id, body: 'b', headers, ...(key === undefined ? {} : { key }) })[0]!;
}

describe('limits - encoded sizes match amqplib', () => {
  const tables: Record<string, unknown>[] = [
    {},
    { a: 'x', 'ü-ñ': 'ä€😀' },
    { n1: 1, n2: -200, n3: 70000, n4: 2 ** 40, f: 1.5, b: true, nul: null, buf: Buffer.from('abc'), arr: ['a', 2, [true]], nested: { x: 'y', z: { w: 1 } } },
    { t: { '!': 'timestamp', value: 5 }, s: { '!': 'short', value: 3 }, u: undefined },
  ];
  it.each(tables.map((t, i) => [i, t]))('table %i', (_i, t) => {
    const buf = Buffer.alloc(AMQPLIB_TABLE_BUFFER);
    expect(encodedTableSize(t as Record<string, unknown>)).toBe(codec.encodeTable(buf, t, 0));
  });

  it('properties of a send, a request and a republish', () => {
    const m = message({ color: 'red', 'größe': 'xl' });
    const variants: Options.Publish[] = [
      publishOptions(m),
      publishOptions(m, { attempt: 3, replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c'.repeat(36), expiration: 12345 }),
      { ...publishOptions(m), contentType: 'text/plain', type: 't', appId: 'app', priority: 3 },
      { persistent: true, headers: {} },
    ];
    for (const o of variants) expect(HEADER_FRAME_OVERHEAD + encodedPropertiesSize(o)).toBe(headerFrame(o).length);
  });

  it('a table one byte over the buffer is what amqplib refuses, one at it goes through', () => {
    const fill = (n: number) => ({ h: 'v'.repeat(n - encodedTableSize({ h: '' })) });
    expect(encodedTableSize(fill(AMQPLIB_TABLE_BUFFER))).toBe(AMQPLIB_TABLE_BUFFER);
    expect(() => headerFrame({ headers: fill(AMQPLIB_TABLE_BUFFER) })).not.toThrow();
    expect(() => headerFrame({ headers: fill(AMQPLIB_TABLE_BUFFER + 1) })).toThrow(/65536 byte encoding buffer/);
  });
});

describe('limits - assertSendable refuses up front with the size and the limit', () => {
  it('a 1 MB header is payload_too_large naming the encoded size and the limit', () => {
    const m = message({ big: 'x'.repeat(1024 * 1024) });
    let err: unknown;
    try {
      assertSendable(m, 2, 131072);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SwitchboardError);
    const e = err as SwitchboardError;
    expect(e.code).toBe('payload_too_large');
    const size = encodedTableSize(publishOptions(m).headers as Record<string, unknown>);
    expect(e.details).toMatchObject({ index: 2, size, limit: AMQPLIB_TABLE_BUFFER - HEADER_RESERVE, frameMax: 131072 });
    expect(e.message).toContain(String(size));
    expect(e.message).toContain(String(AMQPLIB_TABLE_BUFFER - HEADER_RESERVE));
    expect(e.message).toMatch(/^message 2 \(id m-1\)/);
  });

  it('the limit is exact: at it passes, one byte over fails', () => {
    const limit = AMQPLIB_TABLE_BUFFER - HEADER_RESERVE;
    const base = encodedTableSize(publishOptions(message({ h: '' })).headers as Record<string, unknown>);
    expect(() => assertSendable(message({ h: 'v'.repeat(limit - base) }), 0, 131072)).not.toThrow();
    expect(() => assertSendable(message({ h: 'v'.repeat(limit - base + 1) }), 0, 131072)).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
  });

  it('the limit is exact without sb-ts too (queue sends): assertSendable counts what publishOptions sends', () => {
    const limit = AMQPLIB_TABLE_BUFFER - HEADER_RESERVE;
    const base = encodedTableSize(publishOptions(message({ h: '' }), { stamp: false }).headers as Record<string, unknown>);
    expect(() => assertSendable(message({ h: 'v'.repeat(limit - base) }), 0, 131072, false)).not.toThrow();
    expect(() => assertSendable(message({ h: 'v'.repeat(limit - base + 1) }), 0, 131072, false)).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
    const long = 'i'.repeat(300);
    const baseLong = encodedTableSize(publishOptions(message({ h: '' }, long), { stamp: false }).headers as Record<string, unknown>);
    const hard = headerTableLimit(publishOptions(message({ h: '' }, long), { stamp: false }), 4096);
    expect(() => assertSendable(message({ h: 'v'.repeat(hard - HEADER_RESERVE - baseLong) }, long), 0, 4096, false)).not.toThrow();
    expect(() => assertSendable(message({ h: 'v'.repeat(hard - HEADER_RESERVE - baseLong + 1) }, long), 0, 4096, false)).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
  });

  it('a small negotiated frame_max lowers the limit below amqplib buffer', () => {
    const m = message({ h: 'v'.repeat(5000) });
    expect(() => assertSendable(m, 0, 131072)).not.toThrow();
    let err: SwitchboardError | undefined;
    try {
      assertSendable(m, 0, 4096);
    } catch (e) {
      err = e as SwitchboardError;
    }
    expect(err?.code).toBe('payload_too_large');
    const o = publishOptions(m);
    expect(err?.details).toMatchObject({ limit: 4096 - HEADER_FRAME_OVERHEAD - encodedPropertiesSize({ ...o, headers: undefined }) - HEADER_RESERVE, frameMax: 4096 });
    expect(err?.message).toContain('frame_max 4096');
  });

  it('a header name over 255 bytes is invalid_argument (AMQP short string)', () => {
    expect(() => assertSendable(message({ ['n'.repeat(256)]: 'v' }), 0, 131072)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => assertSendable(message({ ['n'.repeat(255)]: 'v' }), 0, 131072)).not.toThrow();
    expect(() => assertSendable(message({ ['é'.repeat(128)]: 'v' }), 0, 131072)).toThrow(/256 bytes/);
  });

  it('an id longer than a short string travels in sb-message-id, within what amqplib encodes', () => {
    const long = 'i'.repeat(300);
    const o = publishOptions(message({}, long));
    expect(o.messageId).toBeUndefined();
    expect((o.headers as Record<string, string>)[HEADERS.messageId]).toBe(long);
    expect(() => headerFrame(o)).not.toThrow();
    expect(publishOptions(message({}, 'i'.repeat(255))).messageId).toHaveLength(255);
  });
});

describe('limits - fitHeaders', () => {
  it('cuts the dead-letter reason of a copy that would not fit, and leaves a copy that fits alone', () => {
    const limit = AMQPLIB_TABLE_BUFFER - HEADER_RESERVE;
    const base = encodedTableSize(publishOptions(message({ h: '' })).headers as Record<string, unknown>);
    const sent = publishOptions(message({ h: 'v'.repeat(limit - base) }));
    const reason = 'é'.repeat(4000);
    const dead: Options.Publish = { ...sent, headers: { ...sent.headers, [HEADERS.deadLetterReason]: reason, [HEADERS.deadLetterAttempts]: '5', [HEADERS.deadLetterSource]: `topic:${'t'.repeat(200)}`, [HEADERS.deadLetterSourceRef]: '123456789' } };
    const fitted = fitHeaders(dead, 131072);
    const cut = (fitted.headers as Record<string, string>)[HEADERS.deadLetterReason]!;
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.length).toBeGreaterThan(100);
    expect(reason.startsWith(cut.slice(0, -1))).toBe(true);
    expect(encodedTableSize(fitted.headers as Record<string, unknown>)).toBeLessThanOrEqual(headerTableLimit(fitted, 131072));
    expect(() => headerFrame(fitted)).not.toThrow();
    const small = { ...publishOptions(message({})), headers: { [HEADERS.deadLetterReason]: reason } };
    expect(fitHeaders(small, 131072)).toBe(small);
  });
});

describe('limits - delays', () => {
  it('a delay over what RabbitMQ takes as a TTL (ten years less the idle time) is invalid_argument naming both', () => {
    expect(() => assertDelay(MAX_DELAY_MS)).not.toThrow();
    expect(MAX_DELAY_MS + DELAY_QUEUE_IDLE_MS).toBe(315_360_000_000);
    expect(() => assertDelay(MAX_DELAY_MS + 1, 3)).toThrow(expect.objectContaining({ code: 'invalid_argument', details: { delayMs: MAX_DELAY_MS + 1, limitMs: MAX_DELAY_MS, index: 3 } }));
  });
});
