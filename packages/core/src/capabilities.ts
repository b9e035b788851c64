import { unsupportedError } from './errors';

/**
 * Everything the conformance catalogue gates on. An adapter declares each one as native,
 * emulated (and how) or none (and why); calls that need a capability the connection lacks throw
 * an `unsupported` error carrying that reason.
 */
export const CAPABILITIES = [
  'fireAndForget',
  'confirm',
  'requestResponse',
  'fanout',
  'competingConsumers',
  'headerFilter',
  'mailbox',
  'prefetch',
  'mailboxRequestResponse',
  'polling',
  'longPolling',
  'atMostOnce',
  'atLeastOnce',
  'crashRedelivery',
  'dedup',
  'orderingPerKey',
  'orderingPerKeyAfterNack',
  'orderingTotal',
  'replay',
  'replayFromPosition',
  'committedPosition',
  'ackTimeout',
  'extend',
  'nackDelay',
  'deadLetter',
  'reject',
  'delayedSend',
  'gracefulClose',
  'reconnect',
  'connectionCut',
  'payloadLimit',
  'authentication',
] as const;

export type CapabilityName = (typeof CAPABILITIES)[number];

export type Support =
  | { readonly level: 'native'; readonly note?: string }
  | { readonly level: 'emulated'; readonly note: string }
  | { readonly level: 'none'; readonly reason: string };

export type Capabilities = Readonly<Record<CapabilityName, Support>>;

export const native = (note?: string): Support => (note === undefined ? { level: 'native' } : { level: 'native', note });
export const emulated = (note: string): Support => ({ level: 'emulated', note });
export const none = (reason: string): Support => ({ level: 'none', reason });

/**
 * Builds a full capability table. Every capability must be given: a forgotten one is a type
 * error, not a silent "none".
 */
export function defineCapabilities(table: Record<CapabilityName, Support>): Capabilities {
  return Object.freeze({ ...table });
}

export function isSupported(caps: Capabilities, name: CapabilityName): boolean {
  return caps[name].level !== 'none';
}

/** Throws an `unsupported` SwitchboardError with the adapter's reason when `name` is not supported. */
export function requireCapability(caps: Capabilities, name: CapabilityName): void {
  const s = caps[name];
  if (s.level === 'none') throw unsupportedError(name, s.reason);
}
