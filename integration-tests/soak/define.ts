// The CI soak of one broker: 100 s of paced sends (then a drain of at most 45 s) to a fresh queue
// read by two competing consumers, with the broker restarted twice through scripts/brokers (keeping
// its data). It asserts that no confirmed message was lost and that the run resumed after every
// restart; the report (counts, send errors by code, time to resume) goes to stderr.
// The broker comes from SWITCHBOARD_TEST_<NAME>_URL as everywhere (harness/brokers.ts); a broker
// scripts/brokers did not start (e.g. a testcontainers one) cannot be restarted, and the file is
// skipped with one loud line. SWITCHBOARD_SOAK_SECONDS changes the send phase (restarts at 4/11 and 8/11 of it).
import { connect, type ConnectOptions, type Driver } from '@switchboard/core';
// integration-tests has no package dependency on @switchboard/soak: its source is imported directly.
import { renderText, rotatingNodeKills, runSoak, type SoakResult } from '@switchboard/soak';
import { brokerSource, BROKERS_SCRIPT, canRestartBroker, clusterControl, clusterRequired, clusterUrlEnvVar, describeWithBroker, missingClusterReason, REPO_ROOT, type BrokerName, type ClusterName } from '../harness';

/** The CI soak's shape: two restarts, the second followed by 28 s of sending. */
export const CI_SOAK = {
  durationMs: Number(process.env.SWITCHBOARD_SOAK_SECONDS ?? 100) * 1000,
  rate: 100,
  consumers: 2,
  drainMs: 45_000,
} as const;

/** Prints the report, then: no failure, something confirmed, nothing lost, two or more disruptions, each resumed. */
function expectNoLoss(result: SoakResult): void {
  process.stderr.write(`${renderText(result)}\n`);
  expect(result.failures).toEqual([]);
  expect(result.counts.confirmed).toBeGreaterThan(0);
  expect(result.counts.lost).toBe(0);
  expect(result.restarts.length).toBeGreaterThanOrEqual(2);
  for (const r of result.restarts) expect({ restart: r.index, ok: r.ok, resumed: r.resumed }).toEqual({ restart: r.index, ok: true, resumed: true });
  expect(result.passed).toBe(true);
}

export function soakAgainst(name: BrokerName, driver: Driver): void {
  const every = Math.floor(CI_SOAK.durationMs / 2.75);
  describeWithBroker(name, `soak ${name}`, (broker) => {
    const restartable = canRestartBroker(name);
    if (!restartable && brokerSource(name) !== 'none') {
      process.stderr.write(`\n!!! SKIPPED soak ${name}: the broker was not started by scripts/brokers (scripts/brokers up ${name}), so it cannot be restarted\n\n`);
    }
    (restartable ? test : test.skip)(
      `soak ${name} - ${CI_SOAK.durationMs / 1000} s at ${CI_SOAK.rate}/s with two broker restarts: nothing confirmed is lost, every restart resumes`,
      async () => {
        const result: SoakResult = await runSoak({
          url: broker.url(),
          ...CI_SOAK,
          restartCommand: `cd '${REPO_ROOT}' && '${BROKERS_SCRIPT}' restart ${name}`,
          restartEveryMs: every,
          connect: (url: string, options?: ConnectOptions) => connect(url, { ...options, drivers: [driver] }),
          onProgress: (line) => process.stderr.write(`soak ${name}: ${line}\n`),
        });
        expectNoLoss(result);
      },
      CI_SOAK.durationMs + CI_SOAK.drainMs + 300_000,
    );
  });
}

/**
 * The CI soak of a three-node cluster (`scripts/brokers up --cluster NAME`, URL from
 * SWITCHBOARD_TEST_<NAME>_CLUSTER_URL): the same run, but at each interval one node is crashed
 * (SIGKILL), left down 8 s and started again, nodes 1, 2, ... in turn, as `switchboard soak
 * --kill-command` does. Runs when the cluster does; SWITCHBOARD_REQUIRE_CLUSTERS=NAME makes a missing
 * cluster fail the run.
 */
export function clusterSoakAgainst(name: ClusterName, driver: Driver): void {
  const url = process.env[clusterUrlEnvVar(name)];
  const title = `soak ${name} cluster - ${CI_SOAK.durationMs / 1000} s at ${CI_SOAK.rate}/s with two nodes crashed and started again in turn: nothing confirmed is lost, every crash resumes`;
  if (!url) {
    const why = missingClusterReason(name);
    if (clusterRequired(name)) test(title, () => { throw new Error(why); });
    else {
      process.stderr.write(`\n!!! SKIPPED soak ${name} cluster: ${why}\n\n`);
      test.skip(title, () => undefined);
    }
    return;
  }
  test(
    title,
    async () => {
      const result: SoakResult = await runSoak({
        url,
        ...CI_SOAK,
        restartCommand: rotatingNodeKills(clusterControl(name), 8000),
        restartLabel: 'crash a node (SIGKILL), 8 s down, start it (nodes 1, 2, 3 in turn)',
        restartEveryMs: Math.floor(CI_SOAK.durationMs / 2.75),
        connect: (u: string, options?: ConnectOptions) => connect(u, { ...options, drivers: [driver] }),
        onProgress: (line) => process.stderr.write(`soak ${name} cluster: ${line}\n`),
      });
      expectNoLoss(result);
    },
    CI_SOAK.durationMs + CI_SOAK.drainMs + 300_000,
  );
}
