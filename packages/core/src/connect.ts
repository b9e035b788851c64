import { createRequire } from 'node:module';
import path from 'node:path';
import { configurationError, SwitchboardError } from './errors';
import { parseUrl, type ParsedUrl } from './url';
import type { Connection } from './types';

/** Options every backend understands; adapters accept more through their own typed factories. */
export interface ConnectOptions {
  /** Give up connecting after this long (default 10000 ms) with a `connection` error. */
  connectTimeoutMs?: number;
  /** Adapter-specific options, validated by the adapter. */
  [key: string]: unknown;
}

/** What an adapter package exports as `driver` so `connect(url)` can reach it. */
export interface Driver {
  /** Adapter name, e.g. "kafka". */
  readonly name: string;
  /** URL schemes it serves, lower case without "://". */
  readonly schemes: readonly string[];
  connect(url: ParsedUrl, options: ConnectOptions): Promise<Connection>;
}

/** Scheme -> package that serves it when nothing was registered. */
export const DEFAULT_DRIVER_PACKAGES: Readonly<Record<string, string>> = {
  memory: '@switchboard/memory',
  kafka: '@switchboard/kafka',
  amqp: '@switchboard/rabbitmq',
  amqps: '@switchboard/rabbitmq',
  sqs: '@switchboard/sqs',
  'sqs+http': '@switchboard/sqs',
  'sqs+https': '@switchboard/sqs',
  nats: '@switchboard/nats',
  'nats+core': '@switchboard/nats',
  'nats+js': '@switchboard/nats',
};

const registry = new Map<string, Driver>();

/** Registers a driver for its schemes (replacing any before it). Custom adapters use this. */
export function registerDriver(driver: Driver): void {
  for (const s of driver.schemes) registry.set(s.toLowerCase(), driver);
}

function loadDriver(scheme: string): Driver {
  const found = registry.get(scheme);
  if (found) return found;
  const pkg = DEFAULT_DRIVER_PACKAGES[scheme];
  if (!pkg) {
    throw configurationError('URL', [
      `unknown scheme "${scheme}://"; known: ${[...new Set([...Object.keys(DEFAULT_DRIVER_PACKAGES), ...registry.keys()])].map((s) => `${s}://`).join(', ')}`,
    ]);
  }
  const bases = [path.join(process.cwd(), 'noop.js'), require.main?.filename, __filename].filter((b): b is string => !!b);
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
  throw new SwitchboardError('configuration', `${scheme}:// needs the package ${pkg}; install it (pnpm add ${pkg})`);
}

/**
 * Connects to the backend named by the URL scheme: `memory://`, `kafka://`, `amqp://`, `amqps://`,
 * `sqs://`, `sqs+http://`, `nats://`. Without a URL, `SWITCHBOARD_URL` is used, then `memory://`.
 * Rejects with `configuration` for a bad URL or options (listing every problem), `connection`
 * when the broker cannot be reached within the connect timeout, `auth` for refused credentials.
 */
export async function connect(url?: string, options: ConnectOptions = {}): Promise<Connection> {
  const target = url ?? process.env.SWITCHBOARD_URL ?? 'memory://';
  const parsed = parseUrl(target);
  const driver = loadDriver(parsed.scheme);
  return driver.connect(parsed, options);
}
