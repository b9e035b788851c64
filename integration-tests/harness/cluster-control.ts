// Cluster control for F6 (issue 17): the three-node clusters of `scripts/brokers cluster` (kafka,
// rabbitmq, nats). A cluster suite runs when SWITCHBOARD_TEST_<NAME>_CLUSTER_URL is set (what
// `scripts/brokers env` prints once `scripts/brokers up --cluster NAME` has run). Clusters cost CPU,
// so they run only when asked: SWITCHBOARD_REQUIRE_CLUSTERS=nats,kafka (CI sets nats) turns a missing
// cluster into a failure; otherwise its file is skipped with one loud line.
import { execFile } from 'node:child_process';
import type { Destination } from '@switchboard/core';
import type { ClusterControl } from '@switchboard/conformance';
import { BROKERS_SCRIPT, REPO_ROOT } from './broker-control';

export type ClusterName = 'kafka' | 'rabbitmq' | 'nats';

/** `SWITCHBOARD_TEST_<NAME>_CLUSTER_URL`. */
export const clusterUrlEnvVar = (name: ClusterName): string => `SWITCHBOARD_TEST_${name.toUpperCase()}_CLUSTER_URL`;

/** Whether this run must have the cluster (SWITCHBOARD_REQUIRE_CLUSTERS lists it). */
export function clusterRequired(name: ClusterName): boolean {
  return (process.env.SWITCHBOARD_REQUIRE_CLUSTERS ?? '').split(',').map((s) => s.trim()).includes(name);
}

/** Why a cluster's tests cannot run: its URL variable is unset, and how to set it. */
export const missingClusterReason = (name: ClusterName): string =>
  `no ${name} cluster: ${clusterUrlEnvVar(name)} is unset (scripts/brokers up --cluster ${name} && eval "$(scripts/brokers env)")`;

function brokers(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(BROKERS_SCRIPT, ['cluster', ...args], { timeout: timeoutMs, cwd: REPO_ROOT }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/brokers cluster ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/**
 * Control of one `scripts/brokers` cluster: kill and start a node and, given `resourceOf`, the node
 * that leads a destination's replicated log. `resourceOf` names that log the way the adapter does (a
 * Kafka topic, a JetStream stream, a RabbitMQ queue).
 */
export function clusterControl(name: ClusterName, resourceOf?: (d: Destination) => string): ClusterControl {
  return {
    nodes: ['1', '2', '3'],
    ...(resourceOf
      ? {
          async leaderOf(d: Destination) {
            const out = await brokers(['leader', name, resourceOf(d)], 60_000);
            return /^[123]$/.test(out) ? out : undefined;
          },
        }
      : {}),
    kill: async (node) => void (await brokers(['kill', name, node], 60_000)),
    start: async (node) => void (await brokers(['start', name, node], 300_000)),
  };
}
