// CI soak against sqs: see define.ts.
import { driver } from '@switchboard/sqs';
import { soakAgainst } from './define';

soakAgainst('sqs', driver);
