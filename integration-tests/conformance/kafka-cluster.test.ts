// The conformance catalogue against a three-node Kafka KRaft cluster (issue 17): `scripts/brokers up
// --cluster kafka`, URL from SWITCHBOARD_TEST_KAFKA_CLUSTER_URL (three bootstrap brokers,
// replicationFactor=3&minInsyncReplicas=2). F6 kills the leader of the destination's partition 0.
// It runs when the cluster does (SWITCHBOARD_REQUIRE_CLUSTERS=kafka makes a missing cluster fail).
import { kafkaTopic } from '@switchboard/kafka';
import { conformanceAgainst } from './define';
import { kafkaSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({
  ...kafkaSuite,
  name: 'kafka (3-node cluster, RF 3, min ISR 2)',
  loadCount: VARIANT_LOAD_COUNT,
  cluster: { resourceOf: kafkaTopic },
});
