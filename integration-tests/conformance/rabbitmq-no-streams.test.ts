// The conformance catalogue against RabbitMQ with streams=false: topics are plain headers exchanges,
// nothing is retained (the replay cases report unsupported). See define.ts for where the broker comes from.
import { conformanceAgainst } from './define';
import { rabbitSuite, VARIANT_LOAD_COUNT, withParam } from './suites';

conformanceAgainst({ ...rabbitSuite, name: 'rabbitmq (streams=false)', variant: withParam('streams', 'false'), loadCount: VARIANT_LOAD_COUNT });
