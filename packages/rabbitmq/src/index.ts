import { parseUrl, type Connection, type Driver } from '@switchboard/core';
import { RabbitConnection } from './connection';
import { resolveRabbitOptions, type RabbitMQOptions } from './options';

export { classifyError } from './classify-error';
export { rabbitCapabilities, rabbitCapabilitiesWithoutStreams } from './capabilities';
export { DEFAULT_MAX_MESSAGE_BYTES, resolveRabbitOptions, type RabbitMQOptions, type ResolvedRabbitMQOptions, type RabbitMQEndpoint } from './options';
export { NAME_PATTERN, NAME_MAX, NAME_RULE, groupQueueName } from './names';
export { RabbitConnection } from './connection';

/**
 * Connects to RabbitMQ. `url` is `amqp://[user:password@]host[:port][/vhost][?option=value...]`
 * (or `amqps://`); options may also come as query parameters. Resolves once the AMQP handshake
 * succeeded. Rejects with `configuration` (listing every problem) for a bad URL or options, `auth`
 * for refused credentials, `connection` when no broker answers within `connectTimeoutMs`.
 * The password never appears in errors or in `connection.url`.
 */
export async function connectRabbitMQ(url: string, options: RabbitMQOptions = {}): Promise<Connection> {
  const parsed = parseUrl(url);
  const { endpoints, options: resolved } = resolveRabbitOptions(parsed, options);
  const c = new RabbitConnection(endpoints, resolved, parsed.redacted);
  await c.start();
  return c;
}

/** The driver `connect()` of @switchboard/core loads for `amqp://` and `amqps://`. */
export const driver: Driver = {
  name: 'rabbitmq',
  schemes: ['amqp', 'amqps'],
  async connect(parsed, options) {
    const { endpoints, options: resolved } = resolveRabbitOptions(parsed, options as RabbitMQOptions);
    const c = new RabbitConnection(endpoints, resolved, parsed.redacted);
    await c.start();
    return c;
  },
};
