// One way for every broker file to register the conformance suite, following the harness rule:
// the URL from SWITCHBOARD_TEST_<NAME>_URL; else a testcontainers container when a Docker engine
// answers; else the file is skipped with one loud line, except under CI=true or
// SWITCHBOARD_REQUIRE_BROKERS=1, where the missing broker fails the run.
//
// SWITCHBOARD_LOAD_COUNT sets L1's N (default 100,000); SWITCHBOARD_ONLY=ID,ID runs a subset.
import path from 'node:path';
import { registerDriver, type Capabilities, type Driver } from '@switchboard/core';
import { describeConformance, type ForeignSide } from '@switchboard/conformance';
import type { Destination } from '@switchboard/core';
import { brokerSource, brokersRequired, brokerUrl, canRestartBroker, clusterControl, clusterRequired, clusterUrlEnvVar, localUrlOf, missingClusterReason, restartBroker, urlEnvVar, type BrokerName, type ClusterName } from '../harness';

export interface BrokerSuite {
  /** The broker scripts/brokers runs (and restarts for F2). */
  broker: BrokerName;
  /** Report name, e.g. "nats (core)". */
  name: string;
  driver: Driver;
  /** The adapter package folder, for AL2's child process. */
  packageDir: string;
  /** The adapter's static capability table for this URL. */
  capabilitiesFor(url: string): Capabilities;
  /** Turns the broker's URL into this variant's (e.g. nats:// -> nats+core://). */
  variant?: (url: string) => string;
  /** The backend's raw client as the IX cases' foreign side (see ./foreign). */
  foreign?: ForeignSide;
  /**
   * The environment variable that alone gives this variant's URL (e.g. SWITCHBOARD_TEST_KAFKA_TLS_URL,
   * the TLS listener `scripts/brokers env` names): no container fallback, and no `variant`.
   */
  urlEnv?: string;
  /** L1's N for this variant when SWITCHBOARD_LOAD_COUNT does not set it (default 100,000). */
  loadCount?: number;
  /**
   * The file runs against the three-node cluster of `scripts/brokers cluster` (URL from
   * SWITCHBOARD_TEST_<NAME>_CLUSTER_URL) and gives F6 its control; `resourceOf` names the broker
   * object that holds a destination's messages, to find its leader.
   */
  cluster?: { resourceOf: (d: Destination) => string };
}


export function conformanceAgainst(s: BrokerSuite): void {
  registerDriver(s.driver);
  const variant = s.variant ?? ((u: string) => u);
  const clusterName = s.cluster ? (s.broker as ClusterName) : undefined;
  const urlEnv = clusterName ? clusterUrlEnvVar(clusterName) : s.urlEnv;
  const source = urlEnv ? (process.env[urlEnv] ? 'env' : 'none') : brokerSource(s.broker);
  if (source === 'none') {
    // Clusters start only when asked (they cost CPU): a missing one fails the run only when SWITCHBOARD_REQUIRE_CLUSTERS names it.
    const required = clusterName ? clusterRequired(clusterName) : brokersRequired();
    const why = clusterName
      ? missingClusterReason(clusterName)
      : s.urlEnv
      ? `no ${s.name} broker: ${s.urlEnv} is unset (scripts/brokers up ${s.broker} && eval "$(scripts/brokers env)")`
      : `no ${s.broker} broker: ${urlEnvVar(s.broker)} is unset and no Docker engine answers (scripts/brokers up ${s.broker} && eval "$(scripts/brokers env)")`;
    if (required) {
      describe(`conformance ${s.name}`, () => {
        test(`${s.name} broker - is available (${clusterName ? 'SWITCHBOARD_REQUIRE_CLUSTERS' : 'CI=true or SWITCHBOARD_REQUIRE_BROKERS=1'})`, () => {
          throw new Error(why);
        });
      });
    } else {
      process.stderr.write(`\n!!! SKIPPED conformance ${s.name}: ${why}\n\n`);
      describe.skip(`conformance ${s.name}`, () => test('skipped', () => undefined));
    }
    return;
  }
  const url = urlEnv ? process.env[urlEnv]! : variant(process.env[urlEnvVar(s.broker)] ?? localUrlOf(s.broker));
  describeConformance({
    name: s.name,
    url,
    ...(source === 'container' ? { resolveUrl: async () => variant((await brokerUrl(s.broker))!) } : {}),
    capabilities: s.capabilitiesFor(url),
    driverPackageDir: path.resolve(s.packageDir),
    loadCount: Number(process.env.SWITCHBOARD_LOAD_COUNT ?? s.loadCount ?? 100_000),
    only: process.env.SWITCHBOARD_ONLY ? process.env.SWITCHBOARD_ONLY.split(',') : undefined,
    ...(s.foreign ? { foreign: s.foreign } : {}),
    // SWITCHBOARD_CONFORMANCE_REPORTS=<dir>: each file writes its report there (scripts/matrix can build the matrix from them).
    ...(process.env.SWITCHBOARD_CONFORMANCE_REPORTS ? { reportFile: path.join(process.env.SWITCHBOARD_CONFORMANCE_REPORTS, `${reportName(s.name)}.json`) } : {}),
    ...(clusterName && s.cluster
      ? { brokerControl: { cluster: clusterControl(clusterName, s.cluster.resourceOf) } }
      : source === 'env' && canRestartBroker(s.broker)
        ? { brokerControl: { restart: () => restartBroker(s.broker) } }
        : {}),
  });
}

/** A report's file name from the suite's name: "nats (jetstream, TLS + password)" -> "nats-jetstream-tls-password". */
function reportName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
