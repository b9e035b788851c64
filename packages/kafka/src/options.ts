import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { ConsumerConfig } from 'kafkajs';
import { configurationError, formatHosts, type ParsedUrl } from '@switchboard/core';
import { readTlsFiles, validateOptions } from '@switchboard/core/driver';
import { z } from 'zod';

/** SASL settings; credentials may also come from the URL's user info. */
export interface KafkaSaslOptions {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

/**
 * Options of {@link connectKafka}. URL query parameters of the same name fill in whatever is not
 * given here; every problem is reported at once as a `configuration` error.
 */
export interface KafkaConnectOptions {
  /** Bootstrap brokers, `host:port`. From the URL when connecting by URL. */
  brokers?: string[];
  /** kafkajs client id (default "switchboard"). */
  clientId?: string;
  /** Partitions of topics this adapter creates (default 3). */
  partitions?: number;
  /** Replication factor of created topics (default: the broker's default). */
  replicationFactor?: number;
  /**
   * `min.insync.replicas` of created topics (default: the broker's). With acks=all (every send of
   * this adapter), a send is confirmed only once this many replicas have it. The safe choice on a
   * cluster is `replicationFactor: 3, minInsyncReplicas: 2`: one broker can fail without losing a
   * confirmed message or stopping sends.
   */
  minInsyncReplicas?: number;
  /** Fail `connect` after this long (default 10000 ms). */
  connectTimeoutMs?: number;
  /** kafkajs request timeout (default 10000 ms). */
  requestTimeoutMs?: number;
  /**
   * TLS: true for Node's defaults, or Node TLS options (`ca`, `cert`, `key`, ...). By URL:
   * `?ssl=true`, and `ca`, `cert`, `key` as paths of PEM files (`?ca=/etc/kafka/ca.pem`), which
   * imply `ssl=true`. Options given here replace the URL's.
   */
  ssl?: boolean | TlsOptions;
  sasl?: KafkaSaslOptions;
  /** Largest message accepted by `send` (default 1048576, Kafka's default max.message.bytes rounded down). */
  maxMessageBytes?: number;
  /** Longest a fetch waits on an idle partition (default 100 ms): the idle delivery latency. */
  maxWaitTimeMs?: number;
  /** Consumer group session timeout (default 10000 ms; the broker's minimum is 6000). */
  sessionTimeoutMs?: number;
  /** Heartbeat interval (default 500 ms): how fast members notice a rebalance. */
  heartbeatIntervalMs?: number;
  /**
   * Rebalance timeout (default 5000 ms): how long a rebalance waits for members to rejoin. It is
   * also how long a member that joins anew waits behind a member id left over from before a broker
   * restart (a kafkajs consumer that crashed during the outage comes back as a new member).
   */
  rebalanceTimeoutMs?: number;
  /**
   * The lowest level of kafkajs's own log lines that reach the connection's `logger` (silent unless
   * the application gives one): nothing, error, warn (default), info, debug. Nothing is printed.
   */
  logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  /**
   * `advertised` (default): after bootstrap, connect to each broker's advertised listener, as every
   * Kafka client does. `bootstrap`: send every connection to the one bootstrap address instead, for
   * a single-broker cluster reached through a port forward or TCP proxy.
   */
  connectVia?: 'advertised' | 'bootstrap';
}

/** Options with every default resolved. */
export interface ResolvedKafkaOptions {
  brokers: string[];
  clientId: string;
  partitions: number;
  replicationFactor: number | undefined;
  minInsyncReplicas: number | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  ssl: boolean | TlsOptions | undefined;
  sasl: KafkaSaslOptions | undefined;
  maxMessageBytes: number;
  maxWaitTimeMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  logLevel: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  connectVia: 'advertised' | 'bootstrap';
}

/** The defaults {@link resolveKafkaOptions} fills in. */
export const KAFKA_DEFAULTS = {
  clientId: 'switchboard',
  partitions: 3,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  maxMessageBytes: 1_048_576,
  maxWaitTimeMs: 100,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 5_000,
  logLevel: 'warn',
} as const;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
const mechanism = z.enum(['plain', 'scram-sha-256', 'scram-sha-512']);
const logLevel = z.enum(['nothing', 'error', 'warn', 'info', 'debug']);

const common = {
  clientId: z.string().min(1).max(200).optional(),
  partitions: int(1, 10_000).optional(),
  replicationFactor: int(1, 100).optional(),
  minInsyncReplicas: int(1, 100).optional(),
  connectTimeoutMs: int(1, 600_000).optional(),
  requestTimeoutMs: int(1, 600_000).optional(),
  maxMessageBytes: int(1, 1_000_000_000).optional(),
  maxWaitTimeMs: int(0, 60_000).optional(),
  sessionTimeoutMs: int(1000, 3_600_000).optional(),
  heartbeatIntervalMs: int(50, 600_000).optional(),
  rebalanceTimeoutMs: int(1000, 3_600_000).optional(),
  logLevel: logLevel.optional(),
  connectVia: z.enum(['advertised', 'bootstrap']).optional(),
};

/** Query parameters of a kafka:// URL. */
const urlParamsSchema = z
  .object({
    ...common,
    ssl: bool.optional(),
    sasl: mechanism.optional(),
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
  })
  .strict();

const optionsSchema = z
  .object({
    ...common,
    brokers: z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'a broker is host:port')).min(1).optional(),
    ssl: z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(),
    sasl: z.object({ mechanism, username: z.string().min(1), password: z.string() }).strict().optional(),
  })
  .strict();

/**
 * Resolves a parsed `kafka://` URL plus connect options into one options object. Options given in
 * code win over the URL's query parameters. Throws one `configuration` error listing every problem.
 */
export function resolveKafkaOptions(url: ParsedUrl | undefined, options: Record<string, unknown> = {}): ResolvedKafkaOptions {
  const problems: string[] = [];
  const collect = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      const p = (e as { details?: { problems?: string[] } }).details?.problems;
      problems.push(...(p ?? [(e as Error).message]));
      return undefined;
    }
  };
  const fromUrl = url ? collect(() => validateOptions(urlParamsSchema, url.params, 'kafka:// URL query')) : {};
  const given = collect(() => validateOptions(optionsSchema, options, 'kafka connect options'));
  if (url && url.scheme !== 'kafka') problems.push(`scheme "${url.scheme}://" is not kafka://`);
  const brokers = given?.brokers ?? (url ? formatHosts(url.hosts, 9092) : []);
  if (brokers.length === 0) problems.push('no broker given: use kafka://host:port[,host:port]');
  let sasl: KafkaSaslOptions | undefined = given?.sasl as KafkaSaslOptions | undefined;
  if (!sasl && url && (url.username !== undefined || fromUrl?.sasl)) {
    if (url.username === undefined || url.password === undefined) problems.push('SASL needs both a user name and a password in the URL (kafka://user:password@host:port)');
    else sasl = { mechanism: fromUrl?.sasl ?? 'plain', username: url.username, password: url.password };
  }
  // PEM files named in the URL: TLS with them, unless the URL turns TLS off or code gives its own.
  let ssl: boolean | TlsOptions | undefined = (given?.ssl as boolean | TlsOptions | undefined) ?? fromUrl?.ssl;
  if (given?.ssl === undefined && fromUrl) {
    const files = readTlsFiles({ ca: fromUrl.ca, cert: fromUrl.cert, key: fromUrl.key }, problems);
    if (files && fromUrl.ssl === false) problems.push('ca, cert and key are TLS files, but the URL says ssl=false');
    else if (files) ssl = files;
  }
  const rf = given?.replicationFactor ?? fromUrl?.replicationFactor;
  const isr = given?.minInsyncReplicas ?? fromUrl?.minInsyncReplicas;
  if (rf !== undefined && isr !== undefined && isr > rf) problems.push(`minInsyncReplicas (${isr}) cannot exceed replicationFactor (${rf}): no send could ever be confirmed`);
  if (problems.length) throw configurationError(`Kafka options${url ? ` for ${url.redacted}` : ''}`, problems);
  const pick = <K extends keyof typeof common>(k: K) => (given?.[k] ?? fromUrl?.[k]) as z.output<(typeof common)[K]>;
  const resolved: ResolvedKafkaOptions = {
    brokers,
    clientId: pick('clientId') ?? KAFKA_DEFAULTS.clientId,
    partitions: pick('partitions') ?? KAFKA_DEFAULTS.partitions,
    replicationFactor: pick('replicationFactor'),
    minInsyncReplicas: pick('minInsyncReplicas'),
    connectTimeoutMs: pick('connectTimeoutMs') ?? KAFKA_DEFAULTS.connectTimeoutMs,
    requestTimeoutMs: pick('requestTimeoutMs') ?? KAFKA_DEFAULTS.requestTimeoutMs,
    ssl,
    sasl,
    maxMessageBytes: pick('maxMessageBytes') ?? KAFKA_DEFAULTS.maxMessageBytes,
    maxWaitTimeMs: pick('maxWaitTimeMs') ?? KAFKA_DEFAULTS.maxWaitTimeMs,
    sessionTimeoutMs: pick('sessionTimeoutMs') ?? KAFKA_DEFAULTS.sessionTimeoutMs,
    heartbeatIntervalMs: pick('heartbeatIntervalMs') ?? KAFKA_DEFAULTS.heartbeatIntervalMs,
    rebalanceTimeoutMs: pick('rebalanceTimeoutMs') ?? KAFKA_DEFAULTS.rebalanceTimeoutMs,
    logLevel: pick('logLevel') ?? KAFKA_DEFAULTS.logLevel,
    connectVia: pick('connectVia') ?? 'advertised',
  };
  if (resolved.connectVia === 'bootstrap' && resolved.brokers.length !== 1) {
    throw configurationError('Kafka options', [`connectVia=bootstrap needs exactly one bootstrap broker (got ${resolved.brokers.length})`]);
  }
  if (resolved.heartbeatIntervalMs >= resolved.sessionTimeoutMs) {
    throw configurationError('Kafka options', [`heartbeatIntervalMs (${resolved.heartbeatIntervalMs}) must be below sessionTimeoutMs (${resolved.sessionTimeoutMs})`]);
  }
  return resolved;
}

/**
 * The retry policy of group members: of the kafkajs consumer and of the kafkajs client it is made
 * from. When a member's retries run out, kafkajs "crashes" and restarts the consumer as a NEW group
 * member. After a broker restart the group coordinator reloads the group with its old members, and a
 * new member's join waits until those old members come back or time out (rebalance and session
 * timeouts: 10-20 s without deliveries). So a member retries for about 5 minutes (300 tries, at
 * most 1 s apart): it keeps its member id through a broker restart and rejoins at once as itself.
 * maxRetryTime 1 s is the longest pause between the broker coming back and the next fetch. kafkajs
 * stops a running member's retries when it is closed.
 */
export const CONSUMER_RETRY = { initialRetryTime: 100, maxRetryTime: 1000, retries: 300 } as const;

/** The kafkajs consumer settings every group member of this adapter uses (groups and reply readers alike). */
export function consumerConfig(o: ResolvedKafkaOptions, groupId: string): ConsumerConfig {
  return {
    groupId,
    sessionTimeout: o.sessionTimeoutMs,
    rebalanceTimeout: o.rebalanceTimeoutMs,
    heartbeatInterval: o.heartbeatIntervalMs,
    maxWaitTimeInMs: o.maxWaitTimeMs,
    allowAutoTopicCreation: false,
    retry: CONSUMER_RETRY,
  };
}
