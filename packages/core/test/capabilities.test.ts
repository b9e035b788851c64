import { CAPABILITIES, isSupported, requireCapability, type Capabilities } from '@switchboard/core';
import { defineCapabilities, emulated, native, none } from '@switchboard/core/driver';
import { createDelivery, type DeliverySettler } from '../src/delivery';

const all = (level: 'native' | 'none'): Capabilities =>
  defineCapabilities(Object.fromEntries(CAPABILITIES.map((c) => [c, level === 'native' ? native() : none('not here')])) as never);

const settler = (): DeliverySettler & { calls: string[] } => {
  const calls: string[] = [];
  return {
    calls,
    ack: async () => void calls.push('ack'),
    nack: async (d) => void calls.push(`nack:${d ?? ''}`),
    extend: async (ms) => void calls.push(`extend:${ms}`),
    reject: async (r) => void calls.push(`reject:${r}`),
    respond: async () => void calls.push('respond'),
  };
};

const init = { id: 'm1', body: new Uint8Array([1]), key: undefined, headers: {}, attempt: 1, destination: 'q', receipt: 'r', timestamp: new Date() };

describe('capabilities', () => {
  test('capabilities - support levels and runtime checks', () => {
    const caps = defineCapabilities({ ...all('native'), nackDelay: emulated('retry topic'), replay: none('queues are destructive') });
    expect(isSupported(caps, 'nackDelay')).toBe(true);
    expect(isSupported(caps, 'replay')).toBe(false);
    expect(() => requireCapability(caps, 'replay')).toThrow(expect.objectContaining({ code: 'unsupported', message: expect.stringContaining('queues are destructive') }));
    expect(() => requireCapability(caps, 'nackDelay')).not.toThrow();
  });

  test('capabilities - a delivery refuses calls the backend lacks, without touching the broker', async () => {
    const s = settler();
    const d = createDelivery(init, s, all('none'));
    await expect(d.extend(100)).rejects.toMatchObject({ code: 'unsupported' });
    await expect(d.nack({ delayMs: 100 })).rejects.toMatchObject({ code: 'unsupported' });
    await expect(d.reject('bad')).rejects.toMatchObject({ code: 'unsupported' });
    expect(s.calls).toEqual([]);
    await d.nack();
    expect(s.calls).toEqual(['nack:']);
  });

  test('capabilities - settling is idempotent and conflicting settles throw', async () => {
    const s = settler();
    const d = createDelivery(init, s, all('native'));
    await d.ack();
    await d.ack();
    await expect(d.nack()).rejects.toMatchObject({ code: 'already_settled' });
    await expect(d.reject('x')).rejects.toMatchObject({ code: 'already_settled' });
    await expect(d.extend(10)).rejects.toMatchObject({ code: 'already_settled' });
    expect(d.state).toBe('acked');
    expect(s.calls).toEqual(['ack']);
  });

  test('capabilities - a failed settle leaves the delivery pending', async () => {
    const s = settler();
    let fail = true;
    s.ack = async () => {
      if (fail) throw new Error('connection lost');
    };
    const d = createDelivery(init, s, all('native'));
    await expect(d.ack()).rejects.toThrow('connection lost');
    expect(d.state).toBe('pending');
    fail = false;
    await d.ack();
    expect(d.state).toBe('acked');
  });
});
