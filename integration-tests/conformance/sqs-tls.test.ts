// The conformance catalogue against SQS + SNS over https: fauxqs behind the TLS terminator of
// scripts/brokers, server certificate from its local CA (URL from SWITCHBOARD_TEST_SQS_TLS_URL).
// The emulator and its TLS terminator share one Node process: L1 at 100,000 messages missed its
// deadline at load 6 (86,919 arrived in 220 s); it runs at VARIANT_LOAD_COUNT here, in full in sqs.test.ts.
import { conformanceAgainst } from './define';
import { sqsSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({ ...sqsSuite, name: 'sqs (https)', urlEnv: 'SWITCHBOARD_TEST_SQS_TLS_URL', loadCount: VARIANT_LOAD_COUNT });
