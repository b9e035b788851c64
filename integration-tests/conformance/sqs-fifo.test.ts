// The conformance catalogue against SQS FIFO queues and SNS FIFO topics (?fifo=true): keys are
// message groups, ids are deduplication ids.
import { conformanceAgainst } from './define';
import { sqsSuite, VARIANT_LOAD_COUNT, withParam } from './suites';

conformanceAgainst({ ...sqsSuite, name: 'sqs (fifo)', variant: withParam('fifo', 'true'), loadCount: VARIANT_LOAD_COUNT });
