// Issue 11, defect 5: after a broker restart the Kafka adapter must resume sending and delivering.
// Before the fix, kafkajs gave up retrying during the outage and restarted each consumer as a NEW
// member; the reloaded group coordinator then held the new members' joins until the old ones timed
// out (10-20 s without deliveries), and the idempotent producer's sequence numbers could fall out of
// step with the broker, so sends kept failing after the restart.
//
// Restarts the kafka broker of scripts/brokers (about a minute here); skipped when that broker is not
// the one scripts/brokers runs.
import { randomUUID } from 'node:crypto';
import { connect, registerDriver, type Connection } from '@switchboard/core';
import { driver, groupId } from '@switchboard/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { canRestartBroker, restartBroker } from '../harness';

const url = process.env.SWITCHBOARD_TEST_KAFKA_URL;
const run = url !== undefined && canRestartBroker('kafka');
if (!run) process.stderr.write('\n!!! SKIPPED kafka restart smoke: needs the kafka broker of scripts/brokers (eval "$(scripts/brokers env)")\n\n');

(run ? describe : describe.skip)('kafka restart', () => {
  jest.setTimeout(420_000);

  test('kafka restart - sends confirm and deliveries resume after a broker restart; members that kept their ids are reported', async () => {
    registerDriver(driver);
    const q = { kind: 'queue', name: `sb-restart-${randomUUID().slice(0, 8)}` } as const;
    const conns: Connection[] = [];
    const admin = new Kafka({ brokers: [url!.replace(/^kafka:\/\//, '').split('?')[0]!], logLevel: logLevel.NOTHING }).admin();
    const got = new Set<string>();
    try {
      const producerConn = await connect(url!);
      conns.push(producerConn);
      const handles = [];
      for (let i = 0; i < 2; i++) {
        const c = await connect(url!);
        conns.push(c);
        const consumer = await c.consumer(q, { prefetch: 8 });
        handles.push(
          consumer.consume(async (d) => {
            got.add(d.text());
          }),
        );
      }
      const p = producerConn.producer();
      await p.send(q, ['before-1', 'before-2', 'before-3']);
      await waitFor(() => ['before-1', 'before-2', 'before-3'].every((m) => got.has(m)), 30_000, 'deliveries before the restart');

      await admin.connect();
      const membersOf = async () => {
        const { groups } = await admin.describeGroups([groupId(q, 'queue')]);
        return groups[0]!.members.map((m) => m.memberId).sort();
      };
      const before = await membersOf();
      expect(before).toHaveLength(2);
      await admin.disconnect();

      await restartBroker('kafka');

      // A send may fail while the broker finishes loading; it must confirm again well within the limit.
      const after = Array.from({ length: 5 }, (_, i) => `after-${i}`);
      for (const m of after) await sendUntilConfirmed(() => p.send(q, m), 120_000);
      await waitFor(() => after.every((m) => got.has(m)), 120_000, 'deliveries after the restart');

      await admin.connect();
      // Members normally keep their ids (they retry through the outage). kafkajs still restarts a
      // member as new on a few errors ("Failed to find group coordinator" as the broker goes down),
      // so this is reported, not asserted; the group never holds more than its two live members.
      const now = await membersOf();
      process.stderr.write(`kafka restart smoke: ${now.filter((m) => before.includes(m)).length} of 2 members kept their member id\n`);
      expect(now).toHaveLength(2);
      for (const h of handles) await h.close();
    } finally {
      await admin.disconnect().catch(() => undefined);
      for (const c of conns) await c.close().catch(() => undefined);
    }
  });
});

async function waitFor(ok: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function sendUntilConfirmed(send: () => Promise<unknown>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await send();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
