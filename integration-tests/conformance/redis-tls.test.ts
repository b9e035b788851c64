// The conformance catalogue against Redis Streams over TLS (rediss://, the TLS port of scripts/brokers
// with an ACL user; URL from SWITCHBOARD_TEST_REDIS_TLS_URL).
import path from 'node:path';
import { driver, redisCapabilities } from '@switchboard/redis';
import { conformanceAgainst } from './define';
import { redisForeign } from './foreign/redis';

conformanceAgainst({
  broker: 'redis',
  name: 'redis (rediss + ACL user)',
  driver,
  packageDir: path.join(__dirname, '../../packages/redis'),
  capabilitiesFor: () => redisCapabilities,
  foreign: redisForeign,
  urlEnv: 'SWITCHBOARD_TEST_REDIS_TLS_URL',
  // The plain file runs L1 at full size; here it checks the TLS path at 20,000 messages.
  loadCount: 20_000,
});
