// The conformance catalogue against Kafka (scripts/brokers' KRaft broker, or any cluster given in
// SWITCHBOARD_TEST_KAFKA_URL). See define.ts for where the broker comes from.
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, kafkaCapabilitiesFor, resolveKafkaOptions } from '@switchboard/kafka';
import { conformanceAgainst } from './define';
import { kafkaForeign } from './foreign/kafka';

conformanceAgainst({
  broker: 'kafka',
  name: 'kafka',
  driver,
  packageDir: path.join(__dirname, '../../packages/kafka'),
  capabilitiesFor: (url) => {
    const o = resolveKafkaOptions(parseUrl(url));
    return kafkaCapabilitiesFor(o.partitions, o.connectVia);
  },
  foreign: kafkaForeign,
});
