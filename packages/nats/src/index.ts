import { parseUrl, type Capabilities, type Driver } from '@switchboard/core';
import { selectCapabilities } from './capabilities';
import { hasCredentials } from './connection';
import { resolveNatsOptions } from './options';
import { openNatsConnection, type NatsConnection_ } from './connection';
import type { NatsOptions } from './options';

export {
  natsCoreCapabilities,
  natsJetStreamCapabilities,
  natsCoreCapabilitiesWithoutAuth,
  natsJetStreamCapabilitiesWithoutAuth,
  selectCapabilities,
} from './capabilities';
export { classifyError } from './errors';
export { resolveNatsOptions, modeOfScheme, type NatsOptions, type NatsMode, type ResolvedNatsOptions } from './options';
export { encodeName, streamNames, durableName, parseAckSubject, MAX_NAME_LENGTH, type AckInfo, type StreamNames } from './names';

/** A Switchboard connection to NATS, with the mode it runs in. */
export type NatsConnection = NatsConnection_;

/**
 * Typed factory: connects to `url` (`nats://`, `nats+js://` for JetStream, `nats+core://` for core
 * NATS). Resolves once connected (and, in JetStream mode, once the JetStream API answered).
 * Rejects with `configuration`, `auth`, `connection` (within `connectTimeoutMs`, default 10 s) or
 * `unsupported` (JetStream mode against a server without JetStream).
 */
export async function connectNats(url: string, options: NatsOptions = {}): Promise<NatsConnection> {
  return openNatsConnection(parseUrl(url), options);
}

/** The driver core's `connect()` loads for `nats://`, `nats+js://` and `nats+core://`. */
export const driver: Driver = {
  name: 'nats',
  schemes: ['nats', 'nats+js', 'nats+core'],
  connect: (url, options) => openNatsConnection(url, options),
};

/**
 * The static capability table a connection to `url` will declare: core NATS for `nats+core://`
 * (or `?mode=core`), JetStream otherwise; `authentication` is none when the URL carries no
 * credentials. Needs no broker; throws `configuration` for a bad URL.
 */
export function natsCapabilitiesFor(url: string, options: NatsOptions = {}): Capabilities {
  const parsed = parseUrl(url);
  return selectCapabilities(resolveNatsOptions(parsed, options).mode, hasCredentials(parsed));
}
