/**
 * The order pipeline as a bundled ESM app (esbuild, `--format=esm --platform=node`): every driver is
 * imported and passed to `connect` explicitly, so nothing is looked up by package name at run time.
 *
 *   esbuild src/bundled-worker.ts --bundle --platform=node --format=esm --outfile=app.mjs \
 *     --banner:js="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
 *   SWITCHBOARD_URL=kafka://127.0.0.1:9092 node app.mjs
 *
 * The banner gives the CommonJS client libraries inside the bundle (kafkajs, amqplib, the AWS SDK)
 * the `require` they use for Node's built-in modules.
 */
import { connect } from '@switchboard/core';
import { DRIVERS } from './drivers';
import { runOrderPipeline } from './order-worker';

async function main(): Promise<void> {
  const url = process.env.SWITCHBOARD_URL ?? 'memory://';
  await using conn = await connect(url, { drivers: DRIVERS });
  const result = await runOrderPipeline(conn);
  console.log(JSON.stringify({ backend: conn.backend, ...result }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
