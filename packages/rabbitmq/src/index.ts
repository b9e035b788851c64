import { parseUrl, registerDriver, type Connection, type Driver } from '@switchboard/core';
import { builtInBackend, defineDriver } from '@switchboard/core/driver';
import type { RabbitMQOptions } from './options';
import { openRabbitSession } from './session';

export { classifyError } from './classify-error';
export { rabbitCapabilities, rabbitCapabilitiesWithoutStreams, rabbitCapabilitiesFor } from './capabilities';
export { DEFAULT_MAX_MESSAGE_BYTES, MAX_PARTITIONS, QUEUE_TYPES, resolveRabbitOptions, type QueueType, type RabbitMQOptions, type ResolvedRabbitMQOptions, type RabbitMQEndpoint } from './options';
export { NAME_PATTERN, NAME_MAX, NAME_RULE, groupQueueName, shardQueueName } from './names';

/**
 * The RabbitMQ driver for `amqp://` and `amqps://`. Importing this package registers it, so
 * `connect('amqp://…')` finds it; `connect(url, { drivers: [driver] })` names it explicitly.
 */
export const driver: Driver = defineDriver({
  ...builtInBackend('rabbitmq'),
  open: (url, options, host) => openRabbitSession(url, options as RabbitMQOptions, host),
});

registerDriver(driver);

/**
 * Connects to RabbitMQ. `url` is `amqp://[user:password@]host[:port][/vhost][?option=value...]`
 * (or `amqps://`); options may also come as query parameters. Resolves once the AMQP handshake
 * succeeded. Rejects with `configuration` (listing every problem) for a bad URL or options, `auth`
 * for refused credentials, `connection` when no broker answers within `connectTimeoutMs`.
 * The password never appears in errors or in `connection.url`.
 */
export function connectRabbitMQ(url: string, options: RabbitMQOptions = {}): Promise<Connection> {
  return driver.connect(parseUrl(url), { ...options });
}

declare module '@switchboard/core' {
  interface BackendConnectOptions {
    /**
     * Options of amqp:// and amqps:// connections (see {@link RabbitMQOptions}), used when the URL selects this
     * backend: `connect(url, { rabbitmq: { … } })`.
     */
    rabbitmq?: RabbitMQOptions;
  }
}
