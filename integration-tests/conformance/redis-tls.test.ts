// The conformance catalogue against Redis Streams over TLS (rediss://, the TLS port of scripts/brokers
// with an ACL user; URL from SWITCHBOARD_TEST_REDIS_TLS_URL).
import { conformanceAgainst } from './define';
import { redisSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({ ...redisSuite, name: 'redis (rediss + ACL user)', urlEnv: 'SWITCHBOARD_TEST_REDIS_TLS_URL', loadCount: VARIANT_LOAD_COUNT });
