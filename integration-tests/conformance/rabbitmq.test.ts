// The conformance catalogue against RabbitMQ (scripts/brokers' Debian RabbitMQ, or RabbitMQ 4 from
// docker-compose / testcontainers). See define.ts for where the broker comes from.
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, rabbitCapabilities, rabbitCapabilitiesWithoutStreams, resolveRabbitOptions } from '@switchboard/rabbitmq';
import { conformanceAgainst } from './define';
import { rabbitForeign } from './foreign/rabbitmq';

conformanceAgainst({
  broker: 'rabbitmq',
  name: 'rabbitmq',
  driver,
  packageDir: path.join(__dirname, '../../packages/rabbitmq'),
  capabilitiesFor: (url) => (resolveRabbitOptions(parseUrl(url)).options.streams ? rabbitCapabilities : rabbitCapabilitiesWithoutStreams),
  foreign: rabbitForeign,
});
