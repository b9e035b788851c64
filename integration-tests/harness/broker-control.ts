// Broker control for fault tests: restart a broker (keeping its data) through scripts/brokers.
// Only brokers that scripts/brokers runs can be restarted this way; a test should check
// canRestartBroker(name) and skip its fault case otherwise (e.g. against testcontainers brokers).
// (Network faults — latency, cuts — go through the TCP proxy in packages/conformance, not here.)
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BROKER_NAMES, localUrlOf, urlEnvVar, type BrokerName } from './brokers';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const BROKERS_SCRIPT = path.join(REPO_ROOT, 'scripts', 'brokers');

/** The URLs scripts/brokers serves (what `scripts/brokers env` prints): the registry's local URLs. */
export const NATIVE_URLS: Record<BrokerName, string> = Object.fromEntries(BROKER_NAMES.map((n) => [n, localUrlOf(n)])) as Record<BrokerName, string>;

/** Whether the broker under test is one scripts/brokers started (so restartBroker can act on it). */
export function canRestartBroker(name: BrokerName): boolean {
  return process.env[urlEnvVar(name)] === NATIVE_URLS[name] && fs.existsSync(path.join(REPO_ROOT, '.brokers', name, 'pid'));
}

/**
 * Stops and starts one broker with `scripts/brokers restart NAME`, keeping its data. Resolves once the
 * broker serves again (protocol-level check), rejects with the script's output when it does not.
 */
export function restartBroker(name: BrokerName, timeoutMs = 240_000): Promise<void> {
  if (!canRestartBroker(name)) {
    return Promise.reject(
      new Error(`restartBroker(${name}): the ${name} broker was not started by scripts/brokers (use canRestartBroker to skip)`),
    );
  }
  return new Promise((resolve, reject) => {
    execFile(BROKERS_SCRIPT, ['restart', name], { timeout: timeoutMs, cwd: REPO_ROOT }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/brokers restart ${name} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}
