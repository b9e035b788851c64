// The conformance suite against Kafka (scripts/brokers' KRaft broker, or any cluster given in
// SWITCHBOARD_TEST_KAFKA_URL, e.g. apache/kafka from docker-compose). Skipped when no URL is set.
import path from 'node:path';
import { parseUrl, registerDriver } from '@switchboard/core';
import { describeConformance } from '@switchboard/conformance';
import { driver, kafkaCapabilitiesFor, resolveKafkaOptions } from '@switchboard/kafka';
import { canRestartBroker, restartBroker } from '../harness';

const url = process.env.SWITCHBOARD_TEST_KAFKA_URL;
registerDriver(driver);

if (url) {
  describeConformance({
    name: 'kafka',
    url,
    capabilities: (({ partitions, connectVia }) => kafkaCapabilitiesFor(partitions, connectVia))(resolveKafkaOptions(parseUrl(url))),
    driverPackageDir: path.resolve(__dirname, '../../packages/kafka'),
    loadCount: Number(process.env.SWITCHBOARD_LOAD_COUNT ?? 100_000),
    only: process.env.SWITCHBOARD_ONLY ? process.env.SWITCHBOARD_ONLY.split(',') : undefined,
    ...(canRestartBroker('kafka') ? { brokerControl: { restart: () => restartBroker('kafka') } } : {}),
  });
} else {
  describe.skip('conformance kafka (set SWITCHBOARD_TEST_KAFKA_URL)', () => {
    test('skipped', () => undefined);
  });
}
