// The conformance catalogue against NATS JetStream over TLS with a password user of the NATS account
// scripts/brokers runs (URL from SWITCHBOARD_TEST_NATS_TLS_URL: nats://switchboard:<password>@127.0.0.1:4223?tls=true&ca=...).
import { conformanceAgainst } from './define';
import { natsSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({ ...natsSuite, name: 'nats (jetstream, TLS + password)', urlEnv: 'SWITCHBOARD_TEST_NATS_TLS_URL', loadCount: VARIANT_LOAD_COUNT });
