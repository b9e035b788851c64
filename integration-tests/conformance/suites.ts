// What every conformance file of one backend shares: the driver, its package folder (for AL2's child
// process), the capability table for a URL, and the IX foreign side. A file adds its name and what
// makes it a variant (a URL parameter, its own URL variable, a smaller L1).
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver as kafkaDriver, kafkaCapabilitiesFor, resolveKafkaOptions } from '@switchboard/kafka';
import { driver as natsDriver, natsCapabilitiesFor } from '@switchboard/nats';
import { driver as rabbitDriver, rabbitCapabilitiesFor, resolveRabbitOptions } from '@switchboard/rabbitmq';
import { driver as redisDriver, redisCapabilities } from '@switchboard/redis';
import { driver as sqsDriver, resolveSqsOptions, sqsCapabilities } from '@switchboard/sqs';
import type { BrokerSuite } from './define';
import { kafkaForeign } from './foreign/kafka';
import { natsForeign } from './foreign/nats';
import { rabbitForeign } from './foreign/rabbitmq';
import { redisForeign } from './foreign/redis';
import { sqsForeign } from './foreign/sqs';

const packageDir = (name: string) => path.join(__dirname, '../../packages', name);

type Base = Omit<BrokerSuite, 'name'>;

export const kafkaSuite: Base = {
  broker: 'kafka',
  driver: kafkaDriver,
  packageDir: packageDir('kafka'),
  capabilitiesFor: (url) => {
    const o = resolveKafkaOptions(parseUrl(url));
    return kafkaCapabilitiesFor(o.partitions, o.connectVia);
  },
  foreign: kafkaForeign,
};

export const rabbitSuite: Base = {
  broker: 'rabbitmq',
  driver: rabbitDriver,
  packageDir: packageDir('rabbitmq'),
  capabilitiesFor: (url) => rabbitCapabilitiesFor(resolveRabbitOptions(parseUrl(url)).options),
  foreign: rabbitForeign,
};

export const natsSuite: Base = {
  broker: 'nats',
  driver: natsDriver,
  packageDir: packageDir('nats'),
  capabilitiesFor: natsCapabilitiesFor,
  foreign: natsForeign('jetstream'),
};

export const sqsSuite: Base = {
  broker: 'sqs',
  driver: sqsDriver,
  packageDir: packageDir('sqs'),
  capabilitiesFor: (url) => {
    const o = resolveSqsOptions(parseUrl(url));
    return sqsCapabilities(o.customEndpoint, o.fifo);
  },
  foreign: sqsForeign,
};

export const redisSuite: Base = {
  broker: 'redis',
  driver: redisDriver,
  packageDir: packageDir('redis'),
  capabilitiesFor: () => redisCapabilities,
  foreign: redisForeign,
};

/** A `variant` that adds `name=value` to the URL unless the URL sets `name` already. */
export const withParam =
  (name: string, value: string) =>
  (url: string): string =>
    new RegExp(`[?&]${name}=`).test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}${name}=${value}`;

/**
 * L1's N in the variant files (TLS, partitions, one partition, ...): the plain file of each backend
 * runs L1 at full size (100,000); a variant checks its own path at 20,000, which keeps CI well
 * inside its time limit.
 */
export const VARIANT_LOAD_COUNT = 20_000;
