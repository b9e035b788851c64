// CI soak against rabbitmq: see define.ts.
import { driver } from '@switchboard/rabbitmq';
import { soakAgainst } from './define';

soakAgainst('rabbitmq', driver);
