// Soak against the three-node RabbitMQ cluster (quorum queues), crashing nodes in turn: see define.ts.
import { driver } from '@switchboard/rabbitmq';
import { clusterSoakAgainst } from './define';

clusterSoakAgainst('rabbitmq', driver);
