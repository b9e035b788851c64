// The conformance catalogue against RabbitMQ over amqps (the TLS listener of scripts/brokers, server
// certificate from its local CA; URL from SWITCHBOARD_TEST_RABBITMQ_TLS_URL).
import { conformanceAgainst } from './define';
import { rabbitSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({ ...rabbitSuite, name: 'rabbitmq (amqps)', urlEnv: 'SWITCHBOARD_TEST_RABBITMQ_TLS_URL', loadCount: VARIANT_LOAD_COUNT });
