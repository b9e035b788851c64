import { createRequire } from 'node:module';
import path from 'node:path';
import { backendForScheme, listBackends } from './backends';
import { registerDriver, registeredDriver, registeredDriverNames, type ConnectOptions, type Driver, type DriverConnectOptions } from './driver-connection';
import { configurationError, SwitchboardError } from './errors';
import { parseUrl } from './url';
import type { Connection } from './types';

export type { BackendConnectOptions, ConnectOptions, Driver, DriverConnectOptions } from './driver-connection';
export { registerDriver } from './driver-connection';

/**
 * Finds the driver of a scheme: the ones given to `connect`, then those registered (an adapter
 * registers itself when imported), then, as a convenience outside bundles, the backend's package
 * loaded by name from the working directory.
 */
function findDriver(scheme: string, given: readonly Driver[] | undefined): Driver {
  const explicit = given?.find((d) => d.schemes.some((s) => s.toLowerCase() === scheme));
  if (explicit) return explicit;
  const found = registeredDriver(scheme);
  if (found) return found;
  const backend = backendForScheme(scheme);
  if (!backend) {
    const known = [...new Set([...listBackends().flatMap((b) => b.schemes), ...(given ?? []).flatMap((d) => d.schemes)])];
    throw configurationError('URL', [`unknown scheme "${scheme}://"; known: ${known.map((s) => `${s}://`).join(', ')}`]);
  }
  const pkg = backend.package;
  const bases = [path.join(process.cwd(), 'noop.js')];
  if (typeof require !== 'undefined' && require.main?.filename) bases.push(require.main.filename);
  if (typeof __filename !== 'undefined') bases.push(__filename);
  for (const base of bases) {
    let mod: { driver?: Driver };
    try {
      mod = createRequire(base)(pkg) as { driver?: Driver };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(pkg)) continue;
      throw new SwitchboardError('configuration', `loading ${pkg} for ${scheme}:// failed: ${(err as Error).message}`, { cause: err });
    }
    if (!mod.driver) throw new SwitchboardError('configuration', `${pkg} does not export a driver`);
    registerDriver(mod.driver);
    return mod.driver;
  }
  throw new SwitchboardError(
    'configuration',
    `${scheme}:// needs the package ${pkg}: install it (pnpm add ${pkg}) and import it, or pass its driver: connect(url, { drivers: [driver] })`,
  );
}

/**
 * Connects to the backend named by the URL scheme: `memory://`, `kafka://`, `amqp://`, `amqps://`,
 * `sqs://`, `sqs+http://`, `nats://`, `nats+core://`. Without a URL, `SWITCHBOARD_URL` is used, then
 * `memory://`. Drivers come from `options.drivers`, then from adapters imported (each registers
 * itself), then from the backend's package by name. Rejects with `configuration` for a bad URL or
 * options (listing every problem), `connection` when the broker cannot be reached within the
 * connect timeout, `auth` for refused credentials.
 */
export async function connect(url?: string, options: ConnectOptions = {}): Promise<Connection> {
  const target = url ?? process.env.SWITCHBOARD_URL ?? 'memory://';
  const parsed = parseUrl(target);
  const { drivers, logger, onError, connectTimeoutMs, ...perBackend } = options as ConnectOptions & Record<string, unknown>;
  const driver = findDriver(parsed.scheme, drivers);
  return driver.connect(parsed, driverOptions(driver, perBackend, drivers, { logger, onError, connectTimeoutMs }));
}

/**
 * The options `driver` gets: its own entry of `perBackend`, flat, with the common ones over it.
 * Entries of other backends are left for them; a name that is no backend's is a `configuration`
 * error (a flat backend option gets a hint to move it under the backend's name).
 */
function driverOptions(driver: Driver, perBackend: Record<string, unknown>, given: readonly Driver[] | undefined, common: DriverConnectOptions): DriverConnectOptions {
  const backends = new Set([...listBackends().map((b) => b.name), ...registeredDriverNames(), ...(given ?? []).map((d) => d.name), driver.name]);
  const problems: string[] = [];
  for (const key of Object.keys(perBackend)) {
    if (backends.has(key)) continue;
    problems.push(`unknown option "${key}"; options of one backend go under its name, e.g. { ${driver.name}: { ${key}: … } }`);
  }
  const own = perBackend[driver.name];
  if (own !== undefined && (typeof own !== 'object' || own === null || Array.isArray(own))) problems.push(`options.${driver.name} must be an object of ${driver.name} options`);
  if (problems.length > 0) throw configurationError('options', problems);
  const out: Record<string, unknown> = { ...(own as Record<string, unknown> | undefined) };
  for (const [k, v] of Object.entries(common)) if (v !== undefined) out[k] = v;
  return out as DriverConnectOptions;
}
