// CI soak against the three-node NATS cluster (JetStream R3), crashing nodes in turn: see define.ts.
import { driver } from '@switchboard/nats';
import { clusterSoakAgainst } from './define';

clusterSoakAgainst('nats', driver);
