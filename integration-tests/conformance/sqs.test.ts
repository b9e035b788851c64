// The conformance catalogue against SQS + SNS (fauxqs from scripts/brokers, or any endpoint given in
// SWITCHBOARD_TEST_SQS_URL). See define.ts for where the broker comes from.
import { conformanceAgainst } from './define';
import { sqsSuite } from './suites';

conformanceAgainst({ ...sqsSuite, name: 'sqs' });
