import { parseUrl, registerDriver, type Connection } from '@switchboard/core';
import { z } from 'zod';
import { builtInBackend, defineDriver, validateOptions, type ConnectOptions, type DriverHost, type DriverSession } from '@switchboard/core/driver';
import { MemoryBroker, type MemoryBrokerOptions } from './broker';
import { memorySession } from './session';

export { MemoryBroker, type MemoryBrokerOptions, type MemoryRecord } from './broker';
export { memoryCapabilities } from './capabilities';

const brokers = new Map<string, MemoryBroker>();

const urlParams = z
  .object({
    maxMessageBytes: z.coerce.number().int().positive().optional(),
    retentionMessages: z.coerce.number().int().positive().optional(),
    retentionMs: z.coerce.number().int().positive().optional(),
    dedupWindowMs: z.coerce.number().int().nonnegative().optional(),
    dedupWindowSize: z.coerce.number().int().positive().optional(),
  })
  .strict();

/** Options of {@link connectMemory}. */
export interface MemoryConnectOptions extends MemoryBrokerOptions {
  /** Broker name: connections with the same name share one broker (default "default"). */
  name?: string;
  /** Use this broker instead of the shared one of `name`. */
  broker?: MemoryBroker;
}

/**
 * Opens a session on an in-process broker. Brokers are created on first use and shared by name
 * within the process; options given on a later connect to an existing broker are ignored unless a
 * `broker` is passed. Exported for test drivers that wrap the session (see `@switchboard/memory/testing`).
 */
export function openMemorySession(options: MemoryConnectOptions, host: DriverHost): DriverSession {
  const name = options.name ?? 'default';
  let broker = options.broker ?? brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker(options);
    brokers.set(name, broker);
  }
  return memorySession(broker, `memory://${name === 'default' ? '' : name}`, host);
}

const codeOptions = z
  .object({
    maxMessageBytes: z.number().int().positive().optional(),
    retentionMessages: z.number().int().positive().optional(),
    retentionMs: z.number().int().positive().optional(),
    dedupWindowMs: z.number().int().nonnegative().optional(),
    dedupWindowSize: z.number().int().positive().optional(),
    name: z.string().min(1).optional(),
    broker: z.instanceof(MemoryBroker).optional(),
    connectTimeoutMs: z.number().positive().optional(),
  })
  .strict();

/**
 * Parses a `memory://` URL and its options into {@link MemoryConnectOptions}. Unknown or malformed
 * options, in the URL or in code, are a configuration error listing every problem.
 */
export function memoryOptionsFrom(url: ReturnType<typeof parseUrl>, options: ConnectOptions): MemoryConnectOptions {
  const params = validateOptions(urlParams, url.params, `memory:// URL ${url.redacted}`);
  const { connectTimeoutMs: _timeout, ...rest } = validateOptions(codeOptions, options, 'memory:// connect options');
  const name = url.hosts[0]?.host ?? (url.path || 'default');
  return { ...params, ...rest, name };
}

/** `memory://[NAME][?maxMessageBytes=&retentionMessages=&retentionMs=&dedupWindowMs=&dedupWindowSize=]`: the embedded default. */
export const driver = defineDriver({
  ...builtInBackend('memory'),
  open: async (url, options, host) => openMemorySession(memoryOptionsFrom(url, options), host),
});
registerDriver(driver);

/** Connects to an in-process broker (see {@link openMemorySession} for how brokers are shared). */
export async function connectMemory(options: MemoryConnectOptions = {}): Promise<Connection> {
  const { name, broker, ...rest } = options;
  return driver.connect(parseUrl(`memory://${name && name !== 'default' ? name : ''}`), { ...rest, ...(broker ? { broker } : {}), ...(name ? { name } : {}) });
}

declare module '@switchboard/core' {
  interface BackendConnectOptions {
    /**
     * Options of memory:// connections (see {@link MemoryConnectOptions}), used when the URL selects this
     * backend: `connect(url, { memory: { … } })`.
     */
    memory?: MemoryConnectOptions;
  }
}
