// The conformance catalogue against core NATS (nats+core://, no JetStream) on the same server.
import path from 'node:path';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { conformanceAgainst } from './define';
import { natsForeign } from './foreign/nats';

conformanceAgainst({
  broker: 'nats',
  name: 'nats (core)',
  driver,
  packageDir: path.join(__dirname, '../../packages/nats'),
  capabilitiesFor: natsCapabilitiesFor,
  foreign: natsForeign('core'),
  variant: (url) => url.replace(/^nats(\+js)?:\/\//i, 'nats+core://'),
});
