// The conformance suite against RabbitMQ (scripts/brokers' Debian RabbitMQ, or any broker given in
// SWITCHBOARD_TEST_RABBITMQ_URL, e.g. RabbitMQ 4 from docker-compose). Skipped when no URL is set.
import path from 'node:path';
import { parseUrl, registerDriver } from '@switchboard/core';
import { describeConformance } from '@switchboard/conformance';
import { driver, rabbitCapabilities, rabbitCapabilitiesWithoutStreams, resolveRabbitOptions } from '@switchboard/rabbitmq';
import { canRestartBroker, restartBroker } from '../harness';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;
registerDriver(driver);

if (url) {
  describeConformance({
    name: 'rabbitmq',
    url,
    capabilities: resolveRabbitOptions(parseUrl(url)).options.streams ? rabbitCapabilities : rabbitCapabilitiesWithoutStreams,
    driverPackageDir: path.resolve(__dirname, '../../packages/rabbitmq'),
    loadCount: Number(process.env.SWITCHBOARD_LOAD_COUNT ?? 100_000),
    only: process.env.SWITCHBOARD_ONLY ? process.env.SWITCHBOARD_ONLY.split(',') : undefined,
    ...(canRestartBroker('rabbitmq') ? { brokerControl: { restart: () => restartBroker('rabbitmq') } } : {}),
  });
} else {
  describe.skip('conformance rabbitmq (set SWITCHBOARD_TEST_RABBITMQ_URL)', () => {
    test('skipped', () => undefined);
  });
}
