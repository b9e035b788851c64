// The conformance catalogue against NATS JetStream over TLS with a password user of the NATS account
// scripts/brokers runs (URL from SWITCHBOARD_TEST_NATS_TLS_URL: nats://switchboard:<password>@127.0.0.1:4222?tls=true&ca=...).
import path from 'node:path';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { conformanceAgainst } from './define';
import { natsForeign } from './foreign/nats';

conformanceAgainst({
  broker: 'nats',
  name: 'nats (jetstream, TLS + password)',
  driver,
  packageDir: path.join(__dirname, '../../packages/nats'),
  capabilitiesFor: natsCapabilitiesFor,
  foreign: natsForeign('jetstream'),
  urlEnv: 'SWITCHBOARD_TEST_NATS_TLS_URL',
});
