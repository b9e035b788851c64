// CI soak against redis: see define.ts.
import { driver } from '@switchboard/redis';
import { soakAgainst } from './define';

soakAgainst('redis', driver);
