// The conformance catalogue against Redis Streams (redis://). See define.ts for where the broker comes from.
import path from 'node:path';
import { driver, redisCapabilities } from '@switchboard/redis';
import { conformanceAgainst } from './define';
import { redisForeign } from './foreign/redis';

conformanceAgainst({
  broker: 'redis',
  name: 'redis',
  driver,
  packageDir: path.join(__dirname, '../../packages/redis'),
  capabilitiesFor: () => redisCapabilities,
  foreign: redisForeign,
});
