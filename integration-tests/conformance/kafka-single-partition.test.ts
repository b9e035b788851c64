// The conformance catalogue against Kafka with one-partition topics (?partitions=1): total order
// holds, members of a group no longer compete.
import { conformanceAgainst } from './define';
import { kafkaSuite, VARIANT_LOAD_COUNT, withParam } from './suites';

conformanceAgainst({ ...kafkaSuite, name: 'kafka (partitions=1)', variant: withParam('partitions', '1'), loadCount: VARIANT_LOAD_COUNT });
