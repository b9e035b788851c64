// The conformance suite against core NATS (no JetStream): the same server as nats.test.ts, reached
// as nats+core://. Skipped when SWITCHBOARD_TEST_NATS_URL is not set.
import path from 'node:path';
import { registerDriver } from '@switchboard/core';
import { CASE_IDS, describeConformance } from '@switchboard/conformance';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { canRestartBroker, restartBroker } from '../harness';

const base = process.env.SWITCHBOARD_TEST_NATS_URL;
const url = base?.replace(/^nats(\+js)?:\/\//i, 'nats+core://');
// RR3 is left out on purpose, for now: it sends its request to a subject nobody listens on and expects
// it to stay pending until the abort. Core NATS answers "no responders" at once (before the abort),
// which RR2 accepts as correct. It comes back once RR3 uses a responder that never answers.
const EXCLUDED = new Set(['RR3']);
registerDriver(driver);

if (url) {
  describeConformance({
    name: 'nats (core)',
    url,
    capabilities: natsCapabilitiesFor(url),
    driverPackageDir: path.resolve(__dirname, '../../packages/nats'),
    loadCount: Number(process.env.SWITCHBOARD_LOAD_COUNT ?? 100_000),
    only: process.env.SWITCHBOARD_ONLY ? process.env.SWITCHBOARD_ONLY.split(',') : CASE_IDS.filter((id) => !EXCLUDED.has(id)),
    ...(canRestartBroker('nats') ? { brokerControl: { restart: () => restartBroker('nats') } } : {}),
  });
} else {
  describe.skip('conformance nats core (set SWITCHBOARD_TEST_NATS_URL)', () => {
    test('skipped', () => undefined);
  });
}
