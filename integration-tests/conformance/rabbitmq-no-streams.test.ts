// The conformance catalogue against RabbitMQ with streams=false: topics are plain headers exchanges,
// nothing is retained (the replay cases report unsupported). See define.ts for where the broker comes from.
import path from 'node:path';
import { driver, rabbitCapabilitiesWithoutStreams } from '@switchboard/rabbitmq';
import { conformanceAgainst } from './define';
import { rabbitForeign } from './foreign/rabbitmq';

conformanceAgainst({
  broker: 'rabbitmq',
  name: 'rabbitmq (streams=false)',
  driver,
  packageDir: path.join(__dirname, '../../packages/rabbitmq'),
  variant: (url) => {
    const u = new URL(url);
    u.searchParams.set('streams', 'false');
    return u.toString();
  },
  capabilitiesFor: () => rabbitCapabilitiesWithoutStreams,
  foreign: rabbitForeign,
});
