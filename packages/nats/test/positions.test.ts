import type { ConsumerConfig } from '@nats-io/jetstream';
import { queue, topic, SwitchboardError, type StartPosition } from '@switchboard/core';
import { resolveConsumerOptions } from '@switchboard/core/driver';
import { openJetStreamConsumer } from '../src/jetstream-consumer';
import { formatPosition, parsePosition, streamNames } from '../src/names';
import type { NatsContext } from '../src/session';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof SwitchboardError ? err.code : 'not a SwitchboardError';
  }
  return undefined;
}

/** A context whose JetStream API records what would be created; no consumer exists yet. */
function fakeContext() {
  const created: { streams: string[]; consumers: Partial<ConsumerConfig>[] } = { streams: [], consumers: [] };
  const jsm = {
    streams: { info: async () => ({ created: '2026-01-01T00:00:00Z' }) },
    consumers: {
      info: async () => {
        throw Object.assign(new Error('consumer not found'), { apiError: () => ({ err_code: 10014 }) });
      },
      add: async (_stream: string, cfg: Partial<ConsumerConfig>) => void created.consumers.push(cfg),
    },
  };
  const ctx = {
    nc: { subscribe: () => ({ unsubscribe: () => undefined }), flush: async () => undefined },
    jsm,
    options: { ackConfirm: true, apiTimeoutMs: 5000, pullExpiresMs: 2000 },
    onReconnect: () => () => undefined,
    requests: { listen: async () => () => undefined, close: () => undefined },
    names: (d: Parameters<NatsContext['names']>[0]) => streamNames(d, 'SB', 'sb'),
    ensureStream: async (d: Parameters<NatsContext['names']>[0]) => void created.streams.push(streamNames(d, 'SB', 'sb').stream),
  } as unknown as NatsContext;
  return { ctx, created };
}

describe('positions - stream sequences as Delivery.position', () => {
  it('format - a topic message gives its stream sequence in decimal, a queue message none', () => {
    expect(formatPosition(topic('t'), 1)).toBe('1');
    expect(formatPosition(topic('t'), 123456789)).toBe('123456789');
    expect(formatPosition(queue('q'), 17)).toBeUndefined();
  });

  it('parse - takes back what format gave out', () => {
    for (const seq of [1, 17, 2 ** 40, Number.MAX_SAFE_INTEGER]) expect(parsePosition(formatPosition(topic('t'), seq)!)).toBe(seq);
  });

  it('parse - anything but a decimal sequence of 1 or more is invalid_argument', () => {
    for (const bad of ['0', '-1', '007', '1.5', '1e3', ' 5', '5 ', '0x10', 'abc', 'offset:5', '', '99999999999999999999']) {
      expect(codeOf(() => parsePosition(bad))).toBe('invalid_argument');
    }
  });
});

describe('jetstream consumer - from { position } on the durable consumer', () => {
  const open = (ctx: NatsContext, d: ReturnType<typeof topic>, from: StartPosition) =>
    openJetStreamConsumer(ctx, d, resolveConsumerOptions(d, { group: 'g1', from }));

  it('start - a new group starts by_start_sequence at the position, inclusive', async () => {
    const { ctx, created } = fakeContext();
    const c = await open(ctx, topic('orders'), { position: '42' });
    await c.close();
    expect(created.streams).toEqual(['SB_T_orders']);
    expect(created.consumers).toHaveLength(1);
    expect(created.consumers[0]).toMatchObject({ durable_name: 'g_g1', deliver_policy: 'by_start_sequence', opt_start_seq: 42 });
  });

  it('validation - a bad position is invalid_argument before the stream or the consumer is created', async () => {
    const { ctx, created } = fakeContext();
    await expect(open(ctx, topic('orders'), { position: 'offset:42' })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(open(ctx, topic('orders'), { position: '0' })).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(created).toEqual({ streams: [], consumers: [] });
  });

  it('queue - from is ignored: the mailbox consumer always delivers all', async () => {
    const { ctx, created } = fakeContext();
    const q = queue('jobs');
    const c = await openJetStreamConsumer(ctx, q, resolveConsumerOptions(q, { from: { position: '42' } }));
    await c.close();
    expect(created.consumers[0]).toMatchObject({ durable_name: 'mailbox', deliver_policy: 'all' });
    expect(created.consumers[0]?.opt_start_seq).toBeUndefined();
  });
});
