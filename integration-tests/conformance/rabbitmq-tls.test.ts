// The conformance catalogue against RabbitMQ over amqps (the TLS listener of scripts/brokers, server
// certificate from its local CA; URL from SWITCHBOARD_TEST_RABBITMQ_TLS_URL).
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, rabbitCapabilities, rabbitCapabilitiesWithoutStreams, resolveRabbitOptions } from '@switchboard/rabbitmq';
import { conformanceAgainst } from './define';
import { rabbitForeign } from './foreign/rabbitmq';

conformanceAgainst({
  broker: 'rabbitmq',
  name: 'rabbitmq (amqps)',
  driver,
  packageDir: path.join(__dirname, '../../packages/rabbitmq'),
  capabilitiesFor: (url) => (resolveRabbitOptions(parseUrl(url)).options.streams ? rabbitCapabilities : rabbitCapabilitiesWithoutStreams),
  foreign: rabbitForeign,
  urlEnv: 'SWITCHBOARD_TEST_RABBITMQ_TLS_URL',
  // The plain file runs L1 at full size; here it checks the TLS path at 20,000 messages.
  loadCount: 20_000,
});
