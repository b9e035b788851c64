// The conformance suite against SQS + SNS (the fauxqs emulator from scripts/brokers, or any
// endpoint given in SWITCHBOARD_TEST_SQS_URL). Skipped when no SQS URL is set.
import path from 'node:path';
import { parseUrl, registerDriver } from '@switchboard/core';
import { describeConformance } from '@switchboard/conformance';
import { driver, resolveSqsOptions, sqsCapabilities } from '@switchboard/sqs';
import { canRestartBroker, restartBroker } from '../harness';

const url = process.env.SWITCHBOARD_TEST_SQS_URL;
registerDriver(driver);
const capabilitiesOf = (u: string) => {
  const o = resolveSqsOptions(parseUrl(u));
  return sqsCapabilities(o.customEndpoint, o.fifo);
};

if (url) {
  describeConformance({
    name: 'sqs',
    url,
    capabilities: capabilitiesOf(url),
    driverPackageDir: path.resolve(__dirname, '../../packages/sqs'),
    loadCount: Number(process.env.SWITCHBOARD_LOAD_COUNT ?? 100_000),
    only: process.env.SWITCHBOARD_ONLY ? process.env.SWITCHBOARD_ONLY.split(',') : undefined,
    ...(canRestartBroker('sqs') ? { brokerControl: { restart: () => restartBroker('sqs') } } : {}),
  });
} else {
  describe.skip('conformance sqs (set SWITCHBOARD_TEST_SQS_URL)', () => {
    test('skipped', () => undefined);
  });
}
