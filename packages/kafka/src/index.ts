import { redactUrl, type Connection, type ConnectOptions, type Driver, type ParsedUrl } from '@switchboard/core';
import { KafkaConnection } from './connection';
import { resolveKafkaOptions, type KafkaConnectOptions } from './options';

export { kafkaCapabilities, kafkaCapabilitiesSinglePartition, kafkaCapabilitiesFor } from './capabilities';
export { classifyError } from './classify-error';
export { KafkaConnection, KafkaProducerHandle } from './connection';
export { resolveKafkaOptions, KAFKA_DEFAULTS, type KafkaConnectOptions, type KafkaSaslOptions, type ResolvedKafkaOptions } from './options';
export { PartitionTracker } from './offset-tracker';
export { groupId, retryTopic, replyTopic, assertTopicName, parseRef, formatRef, TOPIC_NAME_PATTERN, TOPIC_NAME_MAX } from './naming';

/**
 * Connects to Kafka with typed options (no URL needed). Resolves once the admin client and the
 * idempotent producer are connected; rejects with `configuration` (every problem listed),
 * `connection` (no broker answered within `connectTimeoutMs`, default 10 s) or `auth` (SASL refused).
 */
export async function connectKafka(options: KafkaConnectOptions & { brokers: string[] }): Promise<Connection> {
  const resolved = resolveKafkaOptions(undefined, options as unknown as Record<string, unknown>);
  const url = `kafka://${resolved.brokers.join(',')}`;
  return KafkaConnection.open(redactUrl(url), resolved);
}

/**
 * The driver `connect()` loads for `kafka://host:port[,host:port][?clientId=&partitions=&ssl=&sasl=...]`.
 * User info in the URL (`kafka://user:password@host:port`) turns on SASL (PLAIN unless `sasl=` names
 * a SCRAM mechanism). Connect options of {@link KafkaConnectOptions} win over query parameters.
 */
export const driver: Driver = {
  name: 'kafka',
  schemes: ['kafka'],
  async connect(url: ParsedUrl, options: ConnectOptions): Promise<Connection> {
    const resolved = resolveKafkaOptions(url, options);
    return KafkaConnection.open(url.redacted, resolved);
  },
};
