import { nanos } from '@nats-io/transport-node';
import { backstopMs, BACKSTOP_MARGIN_MS, sharedSettings } from '../src/jetstream-consumer';

describe('shared settings - the durable consumer of a group depends on no single member (issue 11, defect 3)', () => {
  it('shared settings - a new consumer: ack_wait is the backstop of the member, max_deliver and max_ack_pending unlimited', () => {
    expect(backstopMs(1000)).toBe(1000 + BACKSTOP_MARGIN_MS);
    expect(sharedSettings(1000)).toEqual({ ack_wait: nanos(backstopMs(1000)), max_deliver: -1, max_ack_pending: -1 });
  });

  it('shared settings - ack_wait only grows: a member with a shorter deadline changes nothing', () => {
    const existing = { ack_wait: nanos(backstopMs(20_000)), max_deliver: -1, max_ack_pending: -1 };
    expect(sharedSettings(1000, existing)).toBeUndefined();
    expect(sharedSettings(20_000, existing)).toBeUndefined();
    expect(sharedSettings(60_000, existing)).toEqual({ ...existing, ack_wait: nanos(backstopMs(60_000)) });
  });

  it('shared settings - a consumer made by an older version (max_deliver = maxAttempts + 1, ack_wait = ackTimeoutMs, max_ack_pending 10000) is widened', () => {
    expect(sharedSettings(30_000, { ack_wait: nanos(1000), max_deliver: 4, max_ack_pending: 10_000 })).toEqual({
      ack_wait: nanos(backstopMs(30_000)),
      max_deliver: -1,
      max_ack_pending: -1,
    });
    // A longer ack_wait an older member set stays.
    expect(sharedSettings(1000, { ack_wait: nanos(3_600_000), max_deliver: 6, max_ack_pending: 10_000 })).toEqual({
      ack_wait: nanos(3_600_000),
      max_deliver: -1,
      max_ack_pending: -1,
    });
  });
});
