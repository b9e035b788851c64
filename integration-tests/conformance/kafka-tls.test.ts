// The conformance catalogue against Kafka's TLS listener: SASL_SSL with SCRAM-SHA-512, the server
// certificate signed by the throwaway local CA of scripts/brokers (URL from SWITCHBOARD_TEST_KAFKA_TLS_URL:
// kafka://switchboard:<password>@127.0.0.1:9094?ssl=true&sasl=scram-sha-512&ca=<.brokers/tls/ca.pem>).
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, kafkaCapabilitiesFor, resolveKafkaOptions } from '@switchboard/kafka';
import { conformanceAgainst } from './define';
import { kafkaForeign } from './foreign/kafka';

conformanceAgainst({
  broker: 'kafka',
  name: 'kafka (TLS + SCRAM)',
  driver,
  packageDir: path.join(__dirname, '../../packages/kafka'),
  capabilitiesFor: (url) => {
    const o = resolveKafkaOptions(parseUrl(url));
    return kafkaCapabilitiesFor(o.partitions, o.connectVia);
  },
  foreign: kafkaForeign,
  urlEnv: 'SWITCHBOARD_TEST_KAFKA_TLS_URL',
  // The plain file runs L1 at full size; here it checks the TLS path at 20,000 messages.
  loadCount: 20_000,
});
