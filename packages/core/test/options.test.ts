import { SwitchboardError } from '@switchboard/core';
import { z } from 'zod';
import { resolveConsumerOptions, validateOptions } from '@switchboard/core/driver';
import { validateSendOptions } from '../src/options';

const q = { kind: 'queue', name: 'orders' } as const;

describe('options', () => {
  test('options - send options: the fast check accepts exactly what the schema accepts', () => {
    const ok = [{}, { confirm: false }, { key: 'k', id: 'i', delayMs: 0 }, { headers: { a: 'b' } }, { signal: new AbortController().signal }, { key: undefined }];
    for (const o of ok) expect(validateSendOptions(o)).toBe(o);
    const bad: unknown[] = [
      { nope: 1 },
      { confirm: 'yes' },
      { key: 7 },
      { id: '' },
      { delayMs: -1 },
      { delayMs: 1.5 },
      { headers: { a: 1 } },
      { headers: ['x'] },
      { headers: null },
      { signal: {} },
      Object.assign(Object.create({ inherited: 1 }) as object, { key: 'k', bogus: true }),
    ];
    for (const o of bad) {
      const err = (() => {
        try {
          validateSendOptions(o);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(SwitchboardError);
      expect(err).toMatchObject({ code: 'invalid_argument' });
    }
  });

  test('options - consumer defaults are filled in one place', () => {
    expect(resolveConsumerOptions(q, undefined)).toMatchObject({
      group: 'default',
      from: 'latest',
      prefetch: 16,
      ackMode: 'at-least-once',
      ackTimeoutMs: 30_000,
      maxAttempts: undefined,
      deadLetter: { kind: 'queue', name: 'orders-dlq' },
    });
  });

  test('options - every bad consumer option is listed in one configuration error', () => {
    try {
      resolveConsumerOptions(q, { prefetch: 0, ackMode: 'maybe', maxAttempts: 1.5, from: { offset: -1 }, bogus: true } as never);
      throw new Error('should have thrown');
    } catch (e) {
      const err = e as SwitchboardError;
      expect(err.code).toBe('configuration');
      const problems = err.details.problems as string[];
      for (const field of ['prefetch', 'ackMode', 'maxAttempts', 'from']) expect(problems.some((p) => p.startsWith(field))).toBe(true);
      expect(problems.some((p) => p.includes('bogus'))).toBe(true);
    }
  });

  test('options - start positions accept offsets and timestamps', () => {
    expect(resolveConsumerOptions(q, { from: { offset: 12 } }).from).toEqual({ offset: 12 });
    const d = new Date();
    expect(resolveConsumerOptions(q, { from: { timestamp: d } }).from).toEqual({ timestamp: d });
  });

  test('options - bad send options are an invalid-argument error', () => {
    expect(() => validateSendOptions({ delayMs: -5, confirm: 'yes' } as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(validateSendOptions({ delayMs: 5, confirm: false })).toEqual({ delayMs: 5, confirm: false });
  });

  test('options - validateOptions returns parsed values', () => {
    const schema = z.object({ port: z.coerce.number().int() });
    expect(validateOptions(schema, { port: '42' }, 'x')).toEqual({ port: 42 });
  });
});
