import { parseUrl, registerDriver, type Capabilities, type Connection } from '@switchboard/core';
import { builtInBackend, defineDriver, type Driver } from '@switchboard/core/driver';
import { selectCapabilities } from './capabilities';
import { resolveNatsOptions, type NatsMode, type NatsOptions } from './options';
import { hasCredentials, openNatsSession } from './session';

export {
  natsCoreCapabilities,
  natsJetStreamCapabilities,
  natsCoreCapabilitiesWithoutAuth,
  natsJetStreamCapabilitiesWithoutAuth,
  selectCapabilities,
  partitionedOverrides,
} from './capabilities';
export { classifyError } from './errors';
export { resolveNatsOptions, modeOfScheme, MAX_PARTITIONS, type NatsOptions, type NatsMode, type ResolvedNatsOptions } from './options';
export { encodeName, streamNames, durableName, parseAckSubject, shardSubject, shardDurable, MAX_NAME_LENGTH, type AckInfo, type StreamNames } from './names';

/** A Switchboard connection to NATS, with the mode it runs in. */
export interface NatsConnection extends Connection {
  readonly mode: NatsMode;
}

/**
 * The NATS driver, for `nats://` and `nats+js://` (JetStream) and `nats+core://` (core NATS).
 * Importing this package registers it, so `connect('nats://...')` finds it; in a bundle pass it
 * explicitly: `connect(url, { drivers: [driver] })`. Options are validated (every problem in one
 * `configuration` error) before anything connects.
 */
export const driver: Driver = defineDriver({
  ...builtInBackend('nats'),
  open: openNatsSession,
});
registerDriver(driver);

/**
 * Typed factory: connects to `url` (`nats://`, `nats+js://` for JetStream, `nats+core://` for core
 * NATS). Resolves once connected (and, in JetStream mode, once the JetStream API answered).
 * Rejects with `configuration`, `auth`, `connection` (within `connectTimeoutMs`, default 10 s) or
 * `unsupported` (JetStream mode against a server without JetStream).
 */
export async function connectNats(url: string, options: NatsOptions = {}): Promise<NatsConnection> {
  const parsed = parseUrl(url);
  const conn = await driver.connect(parsed, { ...options });
  return Object.assign(conn, { mode: resolveNatsOptions(parsed, options).mode });
}

/**
 * The static capability table a connection to `url` will declare: core NATS for `nats+core://`
 * (or `?mode=core`), JetStream otherwise (with `partitions`, per-key order is emulated:
 * {@link partitionedOverrides}); `authentication` is none when the URL carries no credentials. Needs no broker; throws `configuration` for a bad URL.
 */
export function natsCapabilitiesFor(url: string, options: NatsOptions = {}): Capabilities {
  const parsed = parseUrl(url);
  const o = resolveNatsOptions(parsed, options);
  return selectCapabilities(o.mode, hasCredentials(parsed), o.partitions);
}

declare module '@switchboard/core' {
  interface BackendConnectOptions {
    /**
     * Options of nats:// and nats+core:// connections (see {@link NatsOptions}), used when the URL selects this
     * backend: `connect(url, { nats: { … } })`.
     */
    nats?: NatsOptions;
  }
}
