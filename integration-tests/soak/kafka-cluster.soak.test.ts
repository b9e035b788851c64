// Soak against the three-node Kafka cluster (RF 3, min ISR 2), crashing nodes in turn: see define.ts.
import { driver } from '@switchboard/kafka';
import { clusterSoakAgainst } from './define';

clusterSoakAgainst('kafka', driver);
