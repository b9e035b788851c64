import { connect, registerDriver } from '@switchboard/core';
import { driver } from '@switchboard/memory';
import { runOrderPipeline } from '../src/order-worker';

registerDriver(driver);

test('examples - the order pipeline runs on memory:// as the README says', async () => {
  await using conn = await connect('memory://examples');
  const r = await runOrderPipeline(conn, 'test');
  expect(r.handled).toEqual(['A-1', 'B-2', 'C-3']);
  expect(r.deadLettered).toHaveLength(1);
  expect(r.deadLettered[0]!.reason).toContain('cannot ship POISON');
  expect(r.quote).toBe('{"sku":"A-1","price":42} EUR');
});
