import fs from 'node:fs';
import path from 'node:path';
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

test('examples - depend on exactly the packages their sources import, the five adapters included', () => {
  const src = path.join(__dirname, '../src');
  const imported = new Set<string>();
  for (const file of fs.readdirSync(src).filter((f) => f.endsWith('.ts'))) {
    for (const m of fs.readFileSync(path.join(src, file), 'utf8').matchAll(/from '((?:@[^/']+\/)?[^/'.][^/']*)[^']*'/g)) {
      if (!m[1]!.startsWith('node:')) imported.add(m[1]!);
    }
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../package.json'), 'utf8')) as { dependencies: Record<string, string> };
  expect([...imported].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  for (const adapter of ['memory', 'kafka', 'rabbitmq', 'sqs', 'nats']) expect(imported).toContain(`@switchboard/${adapter}`);
});
