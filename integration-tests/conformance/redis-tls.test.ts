// The conformance catalogue against Redis Streams over TLS (rediss://, the TLS port of scripts/brokers
// with an ACL user; URL from SWITCHBOARD_TEST_REDIS_TLS_URL).
import { conformanceAgainst } from './define';
import { redisSuite, TLS_LOAD_COUNT } from './suites';

conformanceAgainst({ ...redisSuite, name: 'redis (rediss + ACL user)', urlEnv: 'SWITCHBOARD_TEST_REDIS_TLS_URL', loadCount: TLS_LOAD_COUNT });
