// The conformance catalogue against NATS JetStream (nats://). See define.ts for where the broker comes from.
import path from 'node:path';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { conformanceAgainst } from './define';
import { natsForeign } from './foreign/nats';

conformanceAgainst({
  broker: 'nats',
  name: 'nats (jetstream)',
  driver,
  packageDir: path.join(__dirname, '../../packages/nats'),
  capabilitiesFor: natsCapabilitiesFor,
  foreign: natsForeign('jetstream'),
});
