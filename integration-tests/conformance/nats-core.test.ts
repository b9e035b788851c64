// The conformance suite against core NATS (no JetStream): the same server as nats.test.ts, reached
// as nats+core://. Skipped when SWITCHBOARD_TEST_NATS_URL is not set.
import path from 'node:path';
import { registerDriver } from '@switchboard/core';
import { describeConformance } from '@switchboard/conformance';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { canRestartBroker, restartBroker } from '../harness';

const base = process.env.SWITCHBOARD_TEST_NATS_URL;
const url = base?.replace(/^nats(\+js)?:\/\//i, 'nats+core://');
registerDriver(driver);

if (url) {
  describeConformance({
    name: 'nats (core)',
    url,
    capabilities: natsCapabilitiesFor(url),
    driverPackageDir: path.resolve(__dirname, '../../packages/nats'),
    loadCount: Number(process.env.SWITCHBOARD_LOAD_COUNT ?? 100_000),
    only: process.env.SWITCHBOARD_ONLY ? process.env.SWITCHBOARD_ONLY.split(',') : undefined,
    ...(canRestartBroker('nats') ? { brokerControl: { restart: () => restartBroker('nats') } } : {}),
  });
} else {
  describe.skip('conformance nats core (set SWITCHBOARD_TEST_NATS_URL)', () => {
    test('skipped', () => undefined);
  });
}
