// CI soak against kafka: see define.ts.
import { driver } from '@switchboard/kafka';
import { soakAgainst } from './define';

soakAgainst('kafka', driver);
