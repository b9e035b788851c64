import { connect } from '@switchboard/core';
import { driver as memory } from '@switchboard/memory';
import { runOrderPipeline } from '../src/order-worker';
import { expectNothingListed, expectOrderRun } from './expectations';

test('order worker - handles the good orders, dead-letters the poison one, answers a quote on memory://', async () => {
  await using conn = await connect('memory://examples', { drivers: [memory] });
  const r = await runOrderPipeline(conn, 'test');
  expectOrderRun(r);
  expect(r.made.map((d) => d.name)).toEqual(['orders-test', 'orders-test-dlq', 'pricing-test']);
});

test('order worker - deletes every queue it made', async () => {
  await using conn = await connect('memory://examples-clean', { drivers: [memory] });
  const r = await runOrderPipeline(conn, 'clean');
  expect(await expectNothingListed(conn, r.made)).toBe(true);
});
