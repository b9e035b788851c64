// The conformance catalogue against NATS JetStream with partitioned destinations (?partitions=4):
// per-key order across the members of a group (one durable consumer per shard, max_ack_pending 1).
import path from 'node:path';
import { driver, natsCapabilitiesFor } from '@switchboard/nats';
import { conformanceAgainst } from './define';
import { natsForeign } from './foreign/nats';

conformanceAgainst({
  broker: 'nats',
  name: 'nats (jetstream, partitions=4)',
  driver,
  packageDir: path.join(__dirname, '../../packages/nats'),
  capabilitiesFor: natsCapabilitiesFor,
  foreign: natsForeign('jetstream'),
  variant: (url) => (/[?&]partitions=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}partitions=4`),
});
