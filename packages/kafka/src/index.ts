import { parseUrl, registerDriver, type Connection, type Driver } from '@switchboard/core';
import { builtInBackend, defineDriver } from '@switchboard/core/driver';
import { patchKafkaRequestQueue } from './diagnostics';
import { resolveKafkaOptions, type KafkaConnectOptions } from './options';
import { openKafkaSession } from './session';

export { kafkaCapabilities, kafkaCapabilitiesSinglePartition, kafkaCapabilitiesFor } from './capabilities';
export { classifyError } from './classify-error';
export { resolveKafkaOptions, KAFKA_DEFAULTS, type KafkaConnectOptions, type KafkaSaslOptions, type ResolvedKafkaOptions } from './options';
export { PartitionTracker } from './offset-tracker';
export { groupId, legacyGroupId, retryTopic, replyTopic, replyGroupId, kafkaTopic, collisionForm, describeTopic, assertTopicName, assertKafkaTopic, QUEUE_NAME_MAX, QUEUE_TOPIC_SUFFIX, parseRef, formatRef, parsePosition, formatPosition, type KafkaPosition, TOPIC_NAME_PATTERN, TOPIC_NAME_MAX } from './naming';

/**
 * The driver `connect()` uses for `kafka://host:port[,host:port][?clientId=&partitions=&ssl=&sasl=...]`
 * (registered when this package is imported). User info in the URL (`kafka://user:password@host:port`)
 * turns on SASL (PLAIN unless `sasl=` names a SCRAM mechanism). Connect options of
 * {@link KafkaConnectOptions} win over query parameters. Bad options fail with one `configuration`
 * error listing every problem, before anything connects.
 */
export const driver: Driver = defineDriver({
  ...builtInBackend('kafka'),
  open: (url, options, host) => openKafkaSession(url.redacted, resolveKafkaOptions(url, options), host),
});
registerDriver(driver);
// kafkajs issue #1751 (TimeoutNegativeWarning on Node 24): fixed when this package is loaded.
patchKafkaRequestQueue();

/**
 * Connects to Kafka with typed options (no URL needed). Resolves once the admin client and the
 * idempotent producer are connected; rejects with `configuration` (every problem listed),
 * `connection` (no broker answered within `connectTimeoutMs`, default 10 s) or `auth` (SASL refused).
 */
export async function connectKafka(options: KafkaConnectOptions & { brokers: string[] }): Promise<Connection> {
  const brokers = Array.isArray(options.brokers) && options.brokers.length > 0 ? options.brokers.join(',') : 'localhost';
  return driver.connect(parseUrl(`kafka://${brokers}`), { ...options });
}

declare module '@switchboard/core' {
  interface BackendConnectOptions {
    /**
     * Options of kafka:// connections (see {@link KafkaConnectOptions}), used when the URL selects this
     * backend: `connect(url, { kafka: { … } })`.
     */
    kafka?: KafkaConnectOptions;
  }
}
