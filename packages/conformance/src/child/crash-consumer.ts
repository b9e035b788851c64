/**
 * AL2's victim: joins a group, takes deliveries and never acks them, printing "RECV <id>" for each,
 * until the parent kills it with SIGKILL. Configured through SWITCHBOARD_CHILD_* variables.
 */
import path from 'node:path';
import { connect, registerDriver, type Destination, type Driver } from '@switchboard/core';
import { CRASH_CHILD_ACK_TIMEOUT_MS } from './locate';

async function main(): Promise<void> {
  const url = process.env.SWITCHBOARD_CHILD_URL!;
  const source = JSON.parse(process.env.SWITCHBOARD_CHILD_SOURCE!) as Destination;
  const group = process.env.SWITCHBOARD_CHILD_GROUP!;
  const driverDir = process.env.SWITCHBOARD_CHILD_DRIVER_DIR;
  if (driverDir) {
    const mod = require(path.resolve(driverDir)) as { driver: Driver };
    registerDriver(mod.driver);
  }
  const conn = await connect(url);
  const consumer = await conn.consumer(source, { group, prefetch: 5, ackTimeoutMs: CRASH_CHILD_ACK_TIMEOUT_MS });
  process.stdout.write('READY\n');
  for await (const d of consumer.subscribe()) process.stdout.write(`RECV ${d.id}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`crash-consumer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(3);
});
