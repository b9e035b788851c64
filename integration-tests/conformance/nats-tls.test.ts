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
  // The plain file runs L1 at full size; here it checks the TLS path at 20,000 messages.
  loadCount: 20_000,
});
