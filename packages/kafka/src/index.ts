import { parseUrl, registerDriver, type Connection, type ConnectOptions, type Driver } from '@switchboard/core';
import { defineDriver } from '@switchboard/core/driver';
import { resolveKafkaOptions, type KafkaConnectOptions } from './options';
import { openKafkaSession } from './session';

export { kafkaCapabilities, kafkaCapabilitiesSinglePartition, kafkaCapabilitiesFor } from './capabilities';
export { classifyError } from './classify-error';
export { resolveKafkaOptions, KAFKA_DEFAULTS, type KafkaConnectOptions, type KafkaSaslOptions, type ResolvedKafkaOptions } from './options';
export { PartitionTracker } from './offset-tracker';
export { groupId, retryTopic, replyTopic, assertTopicName, parseRef, formatRef, TOPIC_NAME_PATTERN, TOPIC_NAME_MAX } from './naming';

/** Kafka's options from the URL and the connect options (core's own `drivers` key is not one of them). */
const kafkaOptions = (url: Parameters<Driver['connect']>[0], options: ConnectOptions) => {
  const { drivers: _drivers, ...rest } = options;
  return resolveKafkaOptions(url, rest);
};

const defined = defineDriver({
  name: 'kafka',
  displayName: 'Apache Kafka',
  package: '@switchboard/kafka',
  schemes: ['kafka'],
  defaultPort: 9092,
  open: (url, options, host) => openKafkaSession(url.redacted, kafkaOptions(url, options), host),
});

/**
 * The driver `connect()` uses for `kafka://host:port[,host:port][?clientId=&partitions=&ssl=&sasl=...]`
 * (registered when this package is imported). User info in the URL (`kafka://user:password@host:port`)
 * turns on SASL (PLAIN unless `sasl=` names a SCRAM mechanism). Connect options of
 * {@link KafkaConnectOptions} win over query parameters. Bad options fail with one `configuration`
 * error listing every problem, before anything connects; `connectTimeoutMs` may also come from the URL.
 */
export const driver: Driver = {
  ...defined,
  connect: (url, options) => defined.connect(url, { ...options, connectTimeoutMs: kafkaOptions(url, options).connectTimeoutMs }),
};
registerDriver(driver);

/**
 * Connects to Kafka with typed options (no URL needed). Resolves once the admin client and the
 * idempotent producer are connected; rejects with `configuration` (every problem listed),
 * `connection` (no broker answered within `connectTimeoutMs`, default 10 s) or `auth` (SASL refused).
 */
export async function connectKafka(options: KafkaConnectOptions & { brokers: string[] }): Promise<Connection> {
  const brokers = Array.isArray(options.brokers) && options.brokers.length > 0 ? options.brokers.join(',') : 'localhost';
  return driver.connect(parseUrl(`kafka://${brokers}`), { ...options });
}
