import { parseUrl, SwitchboardError } from '@switchboard/core';
import { natsCoreCapabilities, natsJetStreamCapabilities } from '../src/capabilities';
import { resolveNatsOptions } from '../src/options';
import { driver } from '../src/index';

describe('options - URL parameters, defaults, validation', () => {
  it('picks the mode from the scheme', () => {
    expect(resolveNatsOptions(parseUrl('nats://127.0.0.1:4222')).mode).toBe('jetstream');
    expect(resolveNatsOptions(parseUrl('nats+js://127.0.0.1')).mode).toBe('jetstream');
    expect(resolveNatsOptions(parseUrl('nats+core://127.0.0.1')).mode).toBe('core');
  });

  it('reads query parameters, lets code options win, fills defaults', () => {
    const o = resolveNatsOptions(parseUrl('nats://h:4222?storage=memory&duplicateWindowMs=60000'), { duplicateWindowMs: 1000 });
    expect(o.storage).toBe('memory');
    expect(o.duplicateWindowMs).toBe(1000);
    expect(o.connectTimeoutMs).toBe(10_000);
    expect(o.subjectPrefix).toBe('sb');
  });

  it('ackConfirm - acks wait for the server by default; false from the URL or code turns it off; anything else is a configuration error', () => {
    expect(resolveNatsOptions(parseUrl('nats://h')).ackConfirm).toBe(true);
    expect(resolveNatsOptions(parseUrl('nats://h?ackConfirm=false')).ackConfirm).toBe(false);
    expect(resolveNatsOptions(parseUrl('nats://h?ackConfirm=false'), { ackConfirm: true }).ackConfirm).toBe(true);
    expect(resolveNatsOptions(parseUrl('nats://h'), { ackConfirm: false }).ackConfirm).toBe(false);
    expect(() => resolveNatsOptions(parseUrl('nats://h?ackConfirm=no'))).toThrow(expect.objectContaining({ code: 'configuration' }) as unknown as Error);
  });

  it('lists every problem in one configuration error', () => {
    let err: SwitchboardError | undefined;
    try {
      resolveNatsOptions(parseUrl('nats://h?storage=tape'), { replicas: 9, subjectPrefix: 'a.b', bogus: 1 });
    } catch (e) {
      err = e as SwitchboardError;
    }
    expect(err?.code).toBe('configuration');
    const problems = err?.details.problems as string[];
    expect(problems.length).toBeGreaterThanOrEqual(4);
    expect(err?.message).toMatch(/storage/);
    expect(err?.message).toMatch(/replicas/);
  });

  it('exposes a driver for the three schemes and two complete capability tables', () => {
    expect(driver.schemes).toEqual(['nats', 'nats+js', 'nats+core']);
    expect(natsCoreCapabilities.atLeastOnce.level).toBe('none');
    expect(natsJetStreamCapabilities.mailbox.level).toBe('native');
    expect(Object.keys(natsCoreCapabilities).sort()).toEqual(Object.keys(natsJetStreamCapabilities).sort());
  });
});

describe('capabilities - chosen by mode and credentials', () => {
  it('declares authentication only when the URL carries credentials', () => {
    const { natsCapabilitiesFor } = require('../src/index') as typeof import('../src/index');
    expect(natsCapabilitiesFor('nats://127.0.0.1:4222').authentication.level).toBe('none');
    expect(natsCapabilitiesFor('nats://u:p@127.0.0.1:4222').authentication.level).toBe('native');
    expect(natsCapabilitiesFor('nats+core://tok@127.0.0.1:4222').authentication.level).toBe('native');
    expect(natsCapabilitiesFor('nats+core://127.0.0.1').mailbox.level).toBe('none');
    expect(natsCapabilitiesFor('nats://127.0.0.1').mailbox.level).toBe('native');
  });
});
