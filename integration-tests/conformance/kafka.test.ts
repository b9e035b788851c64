// The conformance catalogue against Kafka. See define.ts for where the broker comes from.
import { conformanceAgainst } from './define';
import { kafkaSuite } from './suites';

conformanceAgainst({ ...kafkaSuite, name: 'kafka' });
