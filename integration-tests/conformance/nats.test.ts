// The conformance suite against NATS JetStream (scripts/brokers' nats-server with -js, or any server
// given in SWITCHBOARD_TEST_NATS_URL). nats:// and nats+js:// run the JetStream mode. Skipped when no URL is set.
import path from 'node:path';
import { registerDriver } from '@switchboard/core';
import { describeConformance } from '@switchboard/conformance';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { canRestartBroker, restartBroker } from '../harness';

const url = process.env.SWITCHBOARD_TEST_NATS_URL;
registerDriver(driver);

if (url) {
  describeConformance({
    name: 'nats (jetstream)',
    url,
    capabilities: natsCapabilitiesFor(url),
    driverPackageDir: path.resolve(__dirname, '../../packages/nats'),
    loadCount: Number(process.env.SWITCHBOARD_LOAD_COUNT ?? 100_000),
    only: process.env.SWITCHBOARD_ONLY ? process.env.SWITCHBOARD_ONLY.split(',') : undefined,
    ...(canRestartBroker('nats') ? { brokerControl: { restart: () => restartBroker('nats') } } : {}),
  });
} else {
  describe.skip('conformance nats jetstream (set SWITCHBOARD_TEST_NATS_URL)', () => {
    test('skipped', () => undefined);
  });
}
