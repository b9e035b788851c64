// The conformance catalogue against Kafka with one-partition topics (?partitions=1): total order
// holds, members of a group no longer compete.
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, kafkaCapabilitiesFor, resolveKafkaOptions } from '@switchboard/kafka';
import { conformanceAgainst } from './define';
import { kafkaForeign } from './foreign/kafka';

conformanceAgainst({
  broker: 'kafka',
  name: 'kafka (partitions=1)',
  driver,
  packageDir: path.join(__dirname, '../../packages/kafka'),
  capabilitiesFor: (url) => {
    const o = resolveKafkaOptions(parseUrl(url));
    return kafkaCapabilitiesFor(o.partitions, o.connectVia);
  },
  foreign: kafkaForeign,
  variant: (url) => (/[?&]partitions=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}partitions=1`),
});
