// The conformance catalogue against Kafka with every connection sent to the bootstrap address
// (?connectVia=bootstrap), so F3's TCP proxy carries all traffic and its cut is survived.
import { conformanceAgainst } from './define';
import { kafkaSuite, VARIANT_LOAD_COUNT, withParam } from './suites';

conformanceAgainst({ ...kafkaSuite, name: 'kafka (connectVia=bootstrap)', variant: withParam('connectVia', 'bootstrap'), loadCount: VARIANT_LOAD_COUNT });
