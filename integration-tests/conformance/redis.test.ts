// The conformance catalogue against Redis Streams (redis://). See define.ts for where the broker comes from.
import { conformanceAgainst } from './define';
import { redisSuite } from './suites';

conformanceAgainst({ ...redisSuite, name: 'redis' });
