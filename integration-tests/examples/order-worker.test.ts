// The order-worker example (examples/src/order-worker.ts) on each live broker: the same run and the
// same outcome as on memory://, and nothing it made is left on the broker afterwards.
import { connect } from '@switchboard/core';
import { DRIVERS } from '../../examples/src/drivers';
import { runOrderPipeline } from '../../examples/src/order-worker';
import { expectNothingListed, expectOrderRun } from '../../examples/test/expectations';
import { BROKER_NAMES, describeWithBroker } from '../harness';
import { expectFreshConsumersFindNothing, leftovers, listsObjects } from './leftovers';

for (const name of BROKER_NAMES) {
  describeWithBroker(name, `order worker on ${name}`, (broker) => {
    test(`examples - ${name}: the order worker handles the good orders, dead-letters the poison one, answers a quote, and deletes its queues`, async () => {
      const suffix = `ow${Date.now().toString(36)}`;
      await using conn = await connect(broker.url(), { drivers: DRIVERS });
      const r = await runOrderPipeline(conn, suffix);
      expectOrderRun(r);

      const left = await leftovers(name, broker.url(), suffix, r.made);
      if (await listsObjects(conn, r.made[0]!)) {
        expect(await expectNothingListed(conn, r.made)).toBe(true);
        expect(left).toEqual([]);
      } else {
        // The adapter cannot list what it made yet: what the broker still holds is reported, and a
        // fresh consumer of each queue must find nothing.
        if (left.length > 0) process.stderr.write(`\n!!! ${name}: the order worker left ${left.length} broker objects (admin.listObjects is unsupported here): ${left.join(', ')}\n`);
        await expectFreshConsumersFindNothing(conn, r.made);
      }
    }, 180_000);
  });
}
