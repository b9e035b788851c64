// The conformance catalogue against SQS + SNS (fauxqs from scripts/brokers, or any endpoint given in
// SWITCHBOARD_TEST_SQS_URL). See define.ts for where the broker comes from.
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, resolveSqsOptions, sqsCapabilities } from '@switchboard/sqs';
import { conformanceAgainst } from './define';
import { sqsForeign } from './foreign/sqs';

conformanceAgainst({
  broker: 'sqs',
  name: 'sqs',
  driver,
  packageDir: path.join(__dirname, '../../packages/sqs'),
  capabilitiesFor: (url) => {
    const o = resolveSqsOptions(parseUrl(url));
    return sqsCapabilities(o.customEndpoint, o.fifo);
  },
  foreign: sqsForeign,
});
