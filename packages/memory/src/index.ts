import { validateOptions, z, type Connection, type ConnectOptions, type Driver, type ParsedUrl } from '@switchboard/core';
import { MemoryBroker, type MemoryBrokerOptions } from './broker';
import { MemoryConnection } from './connection';

export { MemoryBroker, type MemoryBrokerOptions, type MemoryRecord } from './broker';
export { MemoryConnection } from './connection';
export { memoryCapabilities } from './capabilities';
export { FAULT_NAMES, type MemoryFaults } from './faults';

const brokers = new Map<string, MemoryBroker>();

const urlParams = z
  .object({
    maxMessageBytes: z.coerce.number().int().positive().optional(),
    retentionMessages: z.coerce.number().int().positive().optional(),
    retentionMs: z.coerce.number().int().positive().optional(),
    dedupWindowMs: z.coerce.number().int().nonnegative().optional(),
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
 * Connects to an in-process broker. Brokers are created on first use and shared by name within
 * the process; options given on a later connect to an existing broker are ignored unless a
 * `broker` is passed.
 */
export async function connectMemory(options: MemoryConnectOptions = {}): Promise<Connection> {
  const name = options.name ?? 'default';
  let broker = options.broker ?? brokers.get(name);
  if (!broker) {
    broker = new MemoryBroker(options);
    brokers.set(name, broker);
  }
  return new MemoryConnection(broker, `memory://${name === 'default' ? '' : name}`);
}

/** `memory://[NAME][?maxMessageBytes=&retentionMessages=&retentionMs=&dedupWindowMs=]` */
export const driver: Driver = {
  name: 'memory',
  schemes: ['memory'],
  async connect(url: ParsedUrl, options: ConnectOptions): Promise<Connection> {
    const params = validateOptions(urlParams, url.params, `memory:// URL ${url.redacted}`);
    const name = url.hosts[0]?.host ?? (url.path || 'default');
    return connectMemory({ ...params, ...(options as MemoryConnectOptions), name });
  },
};
