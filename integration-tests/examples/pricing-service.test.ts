// The pricing-service example (examples/src/pricing-service.ts) on each live broker, with an
// in-memory span exporter: the quotes, the fan-out to both groups, the schema dead letters, one
// linked trace per quote, and nothing left on the broker afterwards.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { connect } from '@switchboard/core';
import { DRIVERS } from '../../examples/src/drivers';
import { GROUPS, runPricingDemo, startTracing } from '../../examples/src/pricing-service';
import { expectNothingListed, expectPricingRun, expectPricingTraces } from '../../examples/test/expectations';
import { BROKER_NAMES, describeWithBroker } from '../harness';
import { expectFreshConsumersFindNothing, leftovers, listsObjects } from './leftovers';

const SYSTEMS: Record<string, string> = { kafka: 'kafka', rabbitmq: 'rabbitmq', nats: 'nats', sqs: 'aws_sqs', redis: 'redis' };

const exporter = new InMemorySpanExporter();
let tracing: { shutdown(): Promise<void> };
beforeAll(() => {
  tracing = startTracing(exporter);
});
afterAll(() => tracing.shutdown());

for (const name of BROKER_NAMES) {
  describeWithBroker(name, `pricing service on ${name}`, (broker) => {
    test(`examples - ${name}: the pricing service answers quotes in one linked trace each, fans changes out to both groups, dead-letters the invalid one, and deletes what it made`, async () => {
      exporter.reset();
      const suffix = `ps${Date.now().toString(36)}`;
      await using conn = await connect(broker.url(), { drivers: DRIVERS });
      const r = await runPricingDemo(conn, suffix);
      expectPricingRun(r);
      expectPricingTraces(r, exporter.getFinishedSpans(), SYSTEMS[name]!);

      const left = await leftovers(name, broker.url(), suffix, r.made, [...GROUPS]);
      if (await listsObjects(conn, r.made[0]!)) {
        expect(await expectNothingListed(conn, r.made)).toBe(true);
        expect(left).toEqual([]);
      } else {
        if (left.length > 0) process.stderr.write(`\n!!! ${name}: the pricing service left ${left.length} broker objects (admin.listObjects is unsupported here): ${left.join(', ')}\n`);
        await expectFreshConsumersFindNothing(conn, r.made);
      }
    }, 180_000);
  });
}
