// Issue 16 against a live server (SWITCHBOARD_TEST_NATS_URL): what `partitions` puts on the server
// (shard subjects, one max_ack_pending-1 consumer per shard), routing by key, and the N mismatch check.
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { SwitchboardError, type Connection } from '@switchboard/core';
import { shardOf } from '@switchboard/core/driver';
import { connectNats } from '../src/index';

const url = process.env.SWITCHBOARD_TEST_NATS_URL;
const suffix = () => randomUUID().slice(0, 8);
const withPartitions = (n: number) => `${url}${url!.includes('?') ? '&' : '?'}partitions=${n}`;

(url ? describe : describe.skip)('partitions - against a live NATS server', () => {
  const opened: Connection[] = [];
  const open = async (u: string) => {
    const c = await connectNats(u);
    opened.push(c);
    return c;
  };
  afterAll(async () => {
    for (const c of opened) await c.close().catch(() => undefined);
  });

  test('partitions - the stream holds the shard subjects and records N; each group has one max_ack_pending-1 consumer per shard and an unlimited keyless lane; a key lands on its shard, no key on the plain subject', async () => {
    const conn = await open(withPartitions(4));
    const name = `pt${suffix()}`;
    const c = await conn.consumer(`topic:${name}`, { group: 'g' });
    await conn.producer().send(`topic:${name}`, [{ body: 'a', key: 'customer-7' }]);
    const nc = await natsConnect({ servers: new URL(url!.replace(/^nats:/, 'http:')).host });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(`SB_T_${name}`);
      expect(info.config.subjects).toEqual([`sb.t.${name}`, `sb.tp.${name}.*`]);
      expect(info.config.metadata?.['switchboard-partitions']).toBe('4');
      const consumers = [];
      for await (const ci of jsm.consumers.list(`SB_T_${name}`)) consumers.push(ci);
      expect(consumers.map((x) => x.name).sort()).toEqual(['g_g_p0', 'g_g_p1', 'g_g_p2', 'g_g_p3', 'g_g_u']);
      for (const ci of consumers) {
        if (ci.name === 'g_g_u') {
          expect(ci.config.max_ack_pending).toBe(-1);
          expect(ci.config.filter_subject).toBe(`sb.t.${name}`);
        } else {
          expect(ci.config.max_ack_pending).toBe(1);
          expect(ci.config.filter_subject).toBe(`sb.tp.${name}.${ci.name.slice(-1)}`);
        }
      }
      const shard = shardOf('customer-7', 4);
      const m = await jsm.streams.getMessage(`SB_T_${name}`, { last_by_subj: `sb.tp.${name}.${shard}` });
      expect(m?.string()).toBe('a');
      await conn.producer().send(`topic:${name}`, [{ body: 'no key' }]);
      const keyless = await jsm.streams.getMessage(`SB_T_${name}`, { last_by_subj: `sb.t.${name}` });
      expect(keyless?.string()).toBe('no key');
    } finally {
      await c.close();
      await nc.close();
      await conn.admin.deleteDestination(`topic:${name}`);
    }
  });

  test('partitions - a connection with another N (or none) is refused with a configuration error on a destination made with N', async () => {
    const four = await open(withPartitions(4));
    const two = await open(withPartitions(2));
    const none = await open(url!);
    const name = `pm${suffix()}`;
    await four.admin.ensureDestination(name);
    try {
      for (const other of [two, none]) {
        const err = await other.producer().send(name, 'x').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(SwitchboardError);
        expect((err as SwitchboardError).code).toBe('configuration');
        expect((err as SwitchboardError).message).toMatch(/partitions=4/);
      }
    } finally {
      await four.admin.deleteDestination(name);
    }
  });
});
