// The conformance catalogue against SQS FIFO queues and SNS FIFO topics (?fifo=true): keys are
// message groups, ids are deduplication ids.
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { driver, resolveSqsOptions, sqsCapabilities } from '@switchboard/sqs';
import { conformanceAgainst } from './define';
import { sqsForeign } from './foreign/sqs';

conformanceAgainst({
  broker: 'sqs',
  name: 'sqs (fifo)',
  driver,
  packageDir: path.join(__dirname, '../../packages/sqs'),
  capabilitiesFor: (url) => {
    const o = resolveSqsOptions(parseUrl(url));
    return sqsCapabilities(o.customEndpoint, o.fifo);
  },
  foreign: sqsForeign,
  variant: (url) => (/[?&]fifo=/.test(url) ? url : `${url}${url.includes('?') ? '&' : '?'}fifo=true`),
});
