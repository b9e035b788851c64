// The conformance catalogue against a three-node NATS cluster with JetStream R3 streams (issue 17):
// `scripts/brokers up --cluster nats`, URL from SWITCHBOARD_TEST_NATS_CLUSTER_URL
// (nats://127.0.0.1:4241,127.0.0.1:4242,127.0.0.1:4243?replicas=3). F6 kills the stream's leader.
// CI runs it (SWITCHBOARD_REQUIRE_CLUSTERS=nats); elsewhere it runs when the cluster does.
import { streamNames } from '@switchboard/nats';
import { conformanceAgainst } from './define';
import { natsForeign } from './foreign/nats';
import { natsSuite, VARIANT_LOAD_COUNT } from './suites';

conformanceAgainst({
  ...natsSuite,
  name: 'nats (jetstream, 3-node cluster, R3)',
  loadCount: VARIANT_LOAD_COUNT,
  // IX6 asks the three servers' monitoring endpoints (scripts/brokers.d/cluster-nats.sh: 8241-8243).
  foreign: natsForeign('jetstream', ['http://127.0.0.1:8241', 'http://127.0.0.1:8242', 'http://127.0.0.1:8243']),
  // The adapter's default stream prefix (the cluster URL sets none).
  cluster: { resourceOf: (d) => streamNames(d, 'SB', 'sb').stream },
});
