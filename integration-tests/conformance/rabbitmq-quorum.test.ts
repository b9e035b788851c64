// The conformance catalogue against RabbitMQ with quorum queues (?queueType=quorum): every queue and
// topic group the adapter declares is a quorum queue (packages/rabbitmq/README.md, "Queue types").
// Streams, delay queues and direct reply-to keep their types.
import { conformanceAgainst } from './define';
import { rabbitSuite, VARIANT_LOAD_COUNT, withParam } from './suites';

conformanceAgainst({
  ...rabbitSuite,
  name: 'rabbitmq (queueType=quorum)',
  // L1 runs at full size on the plain file; every message of a quorum queue goes through its Raft log (20,000).
  loadCount: VARIANT_LOAD_COUNT,
  variant: withParam('queueType', 'quorum'),
});
