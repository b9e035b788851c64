// The conformance catalogue against core NATS (nats+core://, no JetStream) on the same server.
import path from 'node:path';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { conformanceAgainst } from './define';

conformanceAgainst({
  broker: 'nats',
  name: 'nats (core)',
  driver,
  packageDir: path.join(__dirname, '../../packages/nats'),
  capabilitiesFor: natsCapabilitiesFor,
  variant: (url) => url.replace(/^nats(\+js)?:\/\//i, 'nats+core://'),
});
