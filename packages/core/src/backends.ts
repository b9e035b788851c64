/**
 * The one list of backends Switchboard knows by name. `connect()` uses it to find the package of a
 * scheme; the CLI, the benchmarks, the conformance suite, the integration harness and the docs
 * matrix read it instead of keeping lists of their own. A driver registered at run time
 * ({@link registerDriver}) adds its own entry.
 */
export interface BackendInfo {
  /** Short name, also the name of the driver: "kafka". */
  readonly name: string;
  /** For people: "Apache Kafka". */
  readonly displayName: string;
  /** The package whose `driver` export serves these schemes. */
  readonly package: string;
  /** URL schemes, lower case, without "://". The first is the usual one. */
  readonly schemes: readonly string[];
  /** The broker's usual port, for URLs without one. Absent for in-process backends. */
  readonly defaultPort?: number;
  /**
   * The URL of this broker run locally with its defaults, as `scripts/brokers` and docker-compose
   * serve it; help texts, the docs and the integration harness show it. Absent for in-process backends.
   */
  readonly localUrl?: string;
  /** Schemes whose default port differs from `defaultPort` (amqps: 5671). */
  readonly schemePorts?: Readonly<Record<string, number>>;
  /**
   * Variants of one backend that the suite reports as columns of their own (e.g. NATS core and
   * JetStream). Each names the schemes that select it.
   */
  readonly variants?: readonly BackendVariant[];
}

export interface BackendVariant {
  /** Column name in reports: "nats-core". */
  readonly name: string;
  readonly displayName: string;
  readonly schemes: readonly string[];
}

const BUILT_IN: readonly BackendInfo[] = [
  { name: 'memory', displayName: 'in-process', package: '@switchboard/memory', schemes: ['memory'] },
  { name: 'kafka', displayName: 'Apache Kafka', package: '@switchboard/kafka', schemes: ['kafka'], defaultPort: 9092, localUrl: 'kafka://127.0.0.1:9092' },
  { name: 'rabbitmq', displayName: 'RabbitMQ', package: '@switchboard/rabbitmq', schemes: ['amqp', 'amqps'], defaultPort: 5672, schemePorts: { amqps: 5671 }, localUrl: 'amqp://guest:guest@127.0.0.1:5672' },
  { name: 'sqs', displayName: 'AWS SQS + SNS', package: '@switchboard/sqs', schemes: ['sqs', 'sqs+http', 'sqs+https'], defaultPort: 443, schemePorts: { 'sqs+http': 80 }, localUrl: 'sqs+http://127.0.0.1:4566?region=us-east-1' },
  {
    name: 'nats',
    displayName: 'NATS',
    package: '@switchboard/nats',
    schemes: ['nats', 'nats+js', 'nats+core'],
    defaultPort: 4222,
    localUrl: 'nats://127.0.0.1:4222',
    variants: [
      { name: 'nats-jetstream', displayName: 'NATS JetStream', schemes: ['nats', 'nats+js'] },
      { name: 'nats-core', displayName: 'NATS core', schemes: ['nats+core'] },
    ],
  },
  { name: 'redis', displayName: 'Redis Streams', package: '@switchboard/redis', schemes: ['redis', 'rediss'], defaultPort: 6379, localUrl: 'redis://127.0.0.1:6379' },
];

const known = new Map<string, BackendInfo>(BUILT_IN.map((b) => [b.name, b]));

/** Every backend known in this process: the built-in ones, then those registered at run time. */
export function listBackends(): readonly BackendInfo[] {
  return [...known.values()];
}

/** The backend serving `scheme` (lower case, without "://"), if any. */
export function backendForScheme(scheme: string): BackendInfo | undefined {
  const s = scheme.toLowerCase();
  for (const b of known.values()) if (b.schemes.includes(s)) return b;
  return undefined;
}

/** The port a URL of `scheme` without a port means, or undefined (in-process, unknown). */
export function defaultPortFor(scheme: string): number | undefined {
  const b = backendForScheme(scheme);
  return b?.schemePorts?.[scheme.toLowerCase()] ?? b?.defaultPort;
}

/** The backend of this name, if any. */
export function backendByName(name: string): BackendInfo | undefined {
  return known.get(name);
}

/**
 * The report column for a URL: the variant its scheme selects, else the backend's name, else the
 * scheme itself.
 */
export function backendLabel(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase() ?? '';
  const b = backendForScheme(scheme);
  if (!b) return scheme || 'unknown';
  return b.variants?.find((v) => v.schemes.includes(scheme))?.name ?? b.name;
}

/**
 * The built-in entry of a backend this repository ships, for its driver to describe itself with
 * (`defineDriver({ ...builtInBackend('kafka'), open })`): the data is written once, here, because
 * `connect()` and the CLI need it before the package is loaded.
 */
export function builtInBackend(name: string): BackendInfo {
  const b = BUILT_IN.find((x) => x.name === name);
  if (!b) throw new Error(`no built-in backend named ${name}`);
  return b;
}

/** Adds or replaces the entry of a backend (called by `registerDriver`). */
export function addBackend(info: BackendInfo): void {
  const existing = known.get(info.name);
  known.set(info.name, existing ? { ...existing, ...info } : info);
}
