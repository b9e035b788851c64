// Where a test's broker comes from, in this order:
//   1. SWITCHBOARD_TEST_<NAME>_URL (what `eval "$(scripts/brokers env)"` sets; CI sets it that way);
//   2. a container started with testcontainers, when a Docker engine answers;
//   3. none: the test file's tests are skipped with ONE loud line on stderr, except when CI=true or
//      SWITCHBOARD_REQUIRE_BROKERS=1, where a missing broker fails the run.
//
//   import { describeWithBroker } from '../harness';
//   describeWithBroker('kafka', (broker) => {
//     it('kafka adapter - ...', async () => { const url = broker.url(); ... });
//   });
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backendByName, listBackends } from '@switchboard/core';
import { startBrokerContainer, stopContainers } from './containers';

/** The registry's backends that run as a broker process (all but the in-process one). */
export type BrokerName = 'kafka' | 'rabbitmq' | 'nats' | 'sqs' | 'redis';
export const BROKER_NAMES: readonly BrokerName[] = listBackends()
  .filter((b) => b.localUrl !== undefined)
  .map((b) => b.name as BrokerName);

/** The URL of the broker as scripts/brokers and docker-compose run it. */
export function localUrlOf(name: BrokerName): string {
  const url = backendByName(name)?.localUrl;
  if (!url) throw new Error(`the backend registry has no local URL for ${name}`);
  return url;
}

export function urlEnvVar(name: BrokerName): string {
  return `SWITCHBOARD_TEST_${name.toUpperCase()}_URL`;
}

/** Whether a missing broker must fail the run instead of skipping: CI=true or SWITCHBOARD_REQUIRE_BROKERS=1. */
export function brokersRequired(): boolean {
  return process.env.CI === 'true' || process.env.SWITCHBOARD_REQUIRE_BROKERS === '1';
}

let dockerAnswer: boolean | undefined;
/**
 * Whether a Docker engine answers /_ping (DOCKER_HOST, else the usual sockets). Synchronous, because jest
 * must know while collecting tests whether they run or are skipped; a child process does the request.
 * SWITCHBOARD_TEST_DOCKER=0 or 1 overrides the check.
 */
export function dockerAvailable(): boolean {
  if (process.env.SWITCHBOARD_TEST_DOCKER === '0') return false;
  if (process.env.SWITCHBOARD_TEST_DOCKER === '1') return true;
  if (dockerAnswer !== undefined) return dockerAnswer;
  const candidates: string[] = [];
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost) candidates.push(dockerHost);
  else {
    for (const socket of [
      '/var/run/docker.sock',
      path.join(os.homedir(), '.docker/run/docker.sock'),
      path.join(os.homedir(), '.docker/desktop/docker.sock'),
      process.env.XDG_RUNTIME_DIR ? path.join(process.env.XDG_RUNTIME_DIR, 'docker.sock') : '',
      process.env.XDG_RUNTIME_DIR ? path.join(process.env.XDG_RUNTIME_DIR, 'podman/podman.sock') : '',
    ]) {
      if (socket && fs.existsSync(socket)) candidates.push(`unix://${socket}`);
    }
  }
  const ping = `
    const http = require('node:http');
    const target = process.argv[1];
    const opts = target.startsWith('unix://') ? { socketPath: target.slice(7) }
      : { host: new URL(target.replace(/^tcp:/, 'http:')).hostname, port: new URL(target.replace(/^tcp:/, 'http:')).port || 2375 };
    const req = http.get({ ...opts, path: '/_ping', timeout: 2000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1));
    req.on('error', () => process.exit(1));
    req.on('timeout', () => process.exit(1));`;
  dockerAnswer = candidates.some(
    (target) => spawnSync(process.execPath, ['-e', ping, target], { timeout: 4000, stdio: 'ignore' }).status === 0,
  );
  return dockerAnswer;
}

export type BrokerSource = 'env' | 'container' | 'none';

/** Where `name` would come from, decided without starting anything. */
export function brokerSource(name: BrokerName): BrokerSource {
  if (process.env[urlEnvVar(name)]) return 'env';
  return dockerAvailable() ? 'container' : 'none';
}

function missingMessage(name: BrokerName): string {
  return (
    `no ${name} broker: ${urlEnvVar(name)} is unset and no Docker engine answers. ` +
    `Start one with: scripts/brokers up ${name} && eval "$(scripts/brokers env)"`
  );
}

const resolved = new Map<BrokerName, Promise<string | undefined>>();

/**
 * The URL of a broker for this test file: from the environment, else a testcontainers container (started
 * once per test file), else undefined — or a thrown error when brokers are required (CI).
 */
export function brokerUrl(name: BrokerName): Promise<string | undefined> {
  let url = resolved.get(name);
  if (!url) {
    url = (async () => {
      const fromEnv = process.env[urlEnvVar(name)];
      if (fromEnv) return fromEnv;
      if (dockerAvailable()) {
        return startBrokerContainer(name);
      }
      if (brokersRequired()) throw new Error(missingMessage(name));
      return undefined;
    })();
    resolved.set(name, url);
  }
  return url;
}

export interface BrokerHandle {
  readonly name: BrokerName;
  /** The broker's URL; call it inside hooks and tests (it is resolved in a beforeAll). */
  url(): string;
}

type Body = (broker: BrokerHandle) => void;

/**
 * describe() for tests that need a real broker. The tests run when the broker is available, are skipped
 * (with one loud stderr line) when it is not, and fail when it is not but brokers are required.
 */
export function describeWithBroker(name: BrokerName, body: Body): void;
export function describeWithBroker(name: BrokerName, title: string, body: Body): void;
export function describeWithBroker(name: BrokerName, titleOrBody: string | Body, maybeBody?: Body): void {
  const title = typeof titleOrBody === 'string' ? titleOrBody : name;
  const body = typeof titleOrBody === 'string' ? maybeBody! : titleOrBody;
  let url: string | undefined;
  const handle: BrokerHandle = {
    name,
    url() {
      if (!url) throw new Error(`${name} broker URL not resolved yet: call broker.url() inside a hook or test`);
      return url;
    },
  };

  const source = brokerSource(name);
  if (source === 'none') {
    if (brokersRequired()) {
      describe(title, () => {
        it(`${name} broker - is available (CI=true or SWITCHBOARD_REQUIRE_BROKERS=1)`, () => {
          throw new Error(missingMessage(name));
        });
      });
      return;
    }
    const file = path.relative(process.cwd(), expect.getState().testPath ?? '') || 'a test file';
    process.stderr.write(`\n!!! SKIPPED ${name} tests in ${file}: ${missingMessage(name)}\n\n`);
    describe.skip(title, () => body(handle));
    return;
  }

  describe(title, () => {
    beforeAll(async () => {
      url = await brokerUrl(name);
      if (!url) throw new Error(missingMessage(name));
    }, 240_000);
    if (source === 'container') {
      afterAll(() => stopContainers(), 60_000);
    }
    body(handle);
  });
}
