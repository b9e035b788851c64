// CI soak against nats: see define.ts.
import { driver } from '@switchboard/nats';
import { soakAgainst } from './define';

soakAgainst('nats', driver);
