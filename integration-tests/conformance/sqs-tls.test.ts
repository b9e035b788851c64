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
  // The emulator and its TLS terminator share one Node process: 100,000 messages took longer than
  // L1's deadline at load 6 (86,919 arrived in 220 s). The plain file runs L1 at full size; here it
  // checks the TLS path at 20,000.
  loadCount: 20_000,
});
