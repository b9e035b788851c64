// The conformance catalogue against SQS + SNS over https: fauxqs behind the TLS terminator of
// scripts/brokers, server certificate from its local CA (URL from SWITCHBOARD_TEST_SQS_TLS_URL).
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, resolveSqsOptions, sqsCapabilities } from '@switchboard/sqs';
import { conformanceAgainst } from './define';
import { sqsForeign } from './foreign/sqs';

conformanceAgainst({
  broker: 'sqs',
  name: 'sqs (https)',
  driver,
  packageDir: path.join(__dirname, '../../packages/sqs'),
  capabilitiesFor: (url) => {
    const o = resolveSqsOptions(parseUrl(url));
    return sqsCapabilities(o.customEndpoint, o.fifo);
  },
  foreign: sqsForeign,
  urlEnv: 'SWITCHBOARD_TEST_SQS_TLS_URL',
});
