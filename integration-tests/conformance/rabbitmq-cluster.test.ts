// The conformance catalogue against a three-node RabbitMQ cluster with quorum queues (issue 17):
// `scripts/brokers up --cluster rabbitmq`, URL from SWITCHBOARD_TEST_RABBITMQ_CLUSTER_URL (three
// hosts, queueType=quorum). F6 kills the leader of the destination's quorum queue.
// It runs when the cluster does (SWITCHBOARD_REQUIRE_CLUSTERS=rabbitmq makes a missing cluster fail).
import { conformanceAgainst } from './define';
import { rabbitClusterForeign } from './foreign/rabbitmq';
import { rabbitSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({
  ...rabbitSuite,
  name: 'rabbitmq (3-node cluster, quorum)',
  loadCount: VARIANT_LOAD_COUNT,
  foreign: rabbitClusterForeign(),
  // A queue destination is the RabbitMQ queue of the same name.
  cluster: { resourceOf: (d) => d.name },
});
