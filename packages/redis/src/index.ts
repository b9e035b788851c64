import { parseUrl, registerDriver, type Connection } from '@switchboard/core';
import { builtInBackend, defineDriver, type Driver } from '@switchboard/core/driver';
import type { RedisOptions } from './options';
import { openRedisSession } from './session';

export { redisCapabilities } from './capabilities';
export { classifyError } from './classify-error';
export { resolveRedisOptions, redisOptionsSchema, type RedisOptions, type ResolvedRedisOptions } from './options';
export { encodeFields, decodeFields, keysOf, streamKey, startId, idBefore, F as FIELDS, QUEUE_GROUP, PARKED, type Keys, type Decoded } from './names';

/**
 * The Redis Streams driver, for `redis://` and `rediss://` (TLS). Importing this package registers
 * it, so `connect('redis://...')` finds it; in a bundle pass it explicitly:
 * `connect(url, { drivers: [driver] })`. Options are validated (every problem in one
 * `configuration` error) before anything connects.
 */
export const driver: Driver = defineDriver({
  ...builtInBackend('redis'),
  open: openRedisSession,
});
registerDriver(driver);

/**
 * Typed factory: connects to `url` (`redis://[user:password@]host[:port][/db]`, `rediss://` for
 * TLS). Resolves once the command connection is ready. Rejects with `configuration`, `auth` or
 * `connection` (within `connectTimeoutMs`, default 10 s).
 */
export function connectRedis(url: string, options: RedisOptions = {}): Promise<Connection> {
  return driver.connect(parseUrl(url), { ...options });
}

declare module '@switchboard/core' {
  interface BackendConnectOptions {
    /**
     * Options of redis:// and rediss:// connections (see {@link RedisOptions}), used when the URL
     * selects this backend: `connect(url, { redis: { … } })`.
     */
    redis?: RedisOptions;
  }
}
