// The conformance catalogue against RabbitMQ with quorum queues (?queueType=quorum): every queue and
// topic group the adapter declares is a quorum queue (packages/rabbitmq/README.md, "Queue types").
// Streams, delay queues and direct reply-to keep their types.
import { conformanceAgainst } from './define';
import { rabbitSuite, withParam } from './suites';

conformanceAgainst({
  ...rabbitSuite,
  name: 'rabbitmq (queueType=quorum)',
  // L1 runs at full size on the plain file; every message of a quorum queue goes through its Raft log (20,000).
  loadCount: 20_000,
  variant: withParam('queueType', 'quorum'),
});
