// The conformance catalogue against Kafka with every connection sent to the bootstrap address
// (?connectVia=bootstrap), so F3's TCP proxy carries all traffic and its cut is survived.
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, kafkaCapabilitiesFor, resolveKafkaOptions } from '@switchboard/kafka';
import { conformanceAgainst } from './define';
import { kafkaForeign } from './foreign/kafka';

conformanceAgainst({
  broker: 'kafka',
  name: 'kafka (connectVia=bootstrap)',
  driver,
  packageDir: path.join(__dirname, '../../packages/kafka'),
  capabilitiesFor: (url) => {
    const o = resolveKafkaOptions(parseUrl(url));
    return kafkaCapabilitiesFor(o.partitions, o.connectVia);
  },
  foreign: kafkaForeign,
  variant: (url) => (/[?&]connectVia=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}connectVia=bootstrap`),
});
