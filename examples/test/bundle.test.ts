// An esbuild-bundled ESM app connects to every backend: the bundle is built here from
// src/bundled-worker.ts and run with node, on memory:// and on each broker whose URL is set
// (scripts/brokers env). Under CI=true a missing broker URL fails instead of skipping.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

const BROKERS = [
  ['kafka', 'SWITCHBOARD_TEST_KAFKA_URL'],
  ['rabbitmq', 'SWITCHBOARD_TEST_RABBITMQ_URL'],
  ['sqs', 'SWITCHBOARD_TEST_SQS_URL'],
  ['nats', 'SWITCHBOARD_TEST_NATS_URL'],
] as const;

let bundle: string;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bundle-'));
  bundle = path.join(dir, 'app.mjs');
  await build({
    entryPoints: [path.join(__dirname, '../src/bundled-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: bundle,
    logLevel: 'silent',
    // The CommonJS dependencies (kafkajs, amqplib) call require(); the alias keeps the banner's name
    // clear of the ES modules' own `import { createRequire } from 'node:module'` (esbuild cannot rename it).
    banner: { js: "import { createRequire as bannerCreateRequire } from 'node:module'; const require = bannerCreateRequire(import.meta.url);" },
  });
}, 60_000);

function run(url: string): Promise<{ backend: string; handled: string[]; deadLettered: unknown[]; quote: string }> {
  return new Promise((resolve, reject) => {
    // Run from an empty folder, so no package can be found by name: only the bundle's own drivers work.
    execFile(process.execPath, [bundle], { cwd: path.dirname(bundle), env: { ...process.env, SWITCHBOARD_URL: url }, timeout: 90_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`bundle on ${url.replace(/:[^:@/]*@/, ':***@')} failed: ${err.message}\n${stderr}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`bundle printed no result: ${stdout}\n${stderr}`));
      }
    });
  });
}

test('bundle - the esbuild ESM bundle holds no lookup by package name and runs on memory://', async () => {
  const text = fs.readFileSync(bundle, 'utf8');
  // Every Switchboard package is inside the bundle: nothing is left to load by name at run time.
  expect(text).not.toMatch(/require\(["']@switchboard\//);
  expect(text).toContain('defineDriver');
  const r = await run('memory://');
  expect(r.backend).toBe('memory');
  expect(r.handled).toEqual(['A-1', 'B-2', 'C-3']);
  expect(r.deadLettered).toHaveLength(1);
  expect(r.quote).toBe('{"sku":"A-1","price":42} EUR');
}, 120_000);

const required = process.env.CI === 'true' || process.env.SWITCHBOARD_REQUIRE_BROKERS === '1';
for (const [name, env] of BROKERS) {
  const url = process.env[env];
  const t = url || required ? test : test.skip;
  t(`bundle - the same bundle runs on ${name}${url ? '' : ` (skipped: ${env} is unset)`}`, async () => {
    if (!url) throw new Error(`${env} is unset: start the brokers (scripts/brokers up) and eval "$(scripts/brokers env)"`);
    const r = await run(url);
    expect(r.backend).toBe(name);
    expect(r.handled).toEqual(['A-1', 'B-2', 'C-3']);
    expect(r.deadLettered).toHaveLength(1);
    expect(r.quote).toBe('{"sku":"A-1","price":42} EUR');
  }, 120_000);
}
