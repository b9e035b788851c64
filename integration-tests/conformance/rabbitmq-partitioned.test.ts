// The conformance catalogue against RabbitMQ with per-key order (?partitions=4): every queue and topic
// group is four shard queues with single active consumer (packages/rabbitmq/README.md, "Per-key order").
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, rabbitCapabilitiesFor, resolveRabbitOptions } from '@switchboard/rabbitmq';
import { conformanceAgainst } from './define';

conformanceAgainst({
  broker: 'rabbitmq',
  name: 'rabbitmq (partitions=4)',
  driver,
  packageDir: path.join(__dirname, '../../packages/rabbitmq'),
  capabilitiesFor: (url) => rabbitCapabilitiesFor(resolveRabbitOptions(parseUrl(url)).options),
  variant: (url) => (/[?&]partitions=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}partitions=4`),
});
