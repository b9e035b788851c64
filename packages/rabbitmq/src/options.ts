import { configurationError, type ConnectOptions, type ParsedUrl } from '@switchboard/core';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { readTlsFiles, validateOptions } from '@switchboard/core/driver';
import { z } from 'zod';

/** RabbitMQ 4.x lowered the default `max_message_size` to 16 MiB (3.x: 128 MiB); this default is safe on both. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * Options of the RabbitMQ adapter. Each can also be given as a URL query parameter
 * (`amqp://host/vhost?heartbeat=10&maxMessageBytes=1048576`); options passed in code win.
 */
export interface RabbitMQOptions extends ConnectOptions {
  /** Give up connecting after this long with a `connection` error (default 10000 ms). */
  connectTimeoutMs?: number;
  /** AMQP heartbeat in seconds (default 10; 0 disables). */
  heartbeat?: number;
  /** Largest message (body + key + headers) a send accepts; bigger ones fail with `payload_too_large` before anything is sent. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** First reconnect delay (default 100 ms), doubled per attempt up to `reconnectMaxDelayMs` (default 5000 ms). */
  reconnectDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** How long a send waits for a lost connection to come back before it rejects with a retryable `connection` error (default 15000 ms). */
  sendTimeoutMs?: number;
  /** Client-side poll interval of long polling (basic.get retried), default 50 ms. */
  pollIntervalMs?: number;
  /** Retention of the stream that backs topic replay, in ms (default 24 h). */
  streamRetentionMs?: number;
  /** Client-provided connection name shown in the management UI. */
  connectionName?: string;
  /** Bind a stream to every topic so groups can replay (default true; needs RabbitMQ 3.9+). false: topics are plain exchanges, no replay. */
  streams?: boolean;
  /**
   * Per-key order across the members of a group: every queue, and every group of every topic, of this
   * connection becomes `partitions` shard queues with single active consumer, and a keyed message goes
   * to shard `shardOf(key, partitions)` (see the README, "Per-key order (partitions)"). Absent: plain
   * queues, no per-key order across members. Producers and consumers of one destination must use the
   * same value: a shard beyond it found on the broker is a `configuration` error.
   */
  partitions?: number;
  /**
   * With `partitions`: how often a member compares the shards it is active on with its fair share
   * (ceil(partitions / members)) and hands the excess to waiting members (default 1000 ms).
   */
  rebalanceIntervalMs?: number;
  /**
   * The type of the queues the adapter declares for queues and topic groups (and their shard queues
   * with `partitions`): `classic` (default) or `quorum` (replicated Raft queues; RabbitMQ 4's
   * recommendation for durable work). Streams, delay queues, offset queues, group registries and
   * direct reply-to keep their own types (see the README, "Queue types"). A queue that already exists
   * with another type is used as it is.
   */
  queueType?: QueueType;
  /**
   * TLS settings of `amqps://` connections (Node TLS options: `ca`, `cert`, `key`, `servername`, ...).
   * By URL: `ca`, `cert`, `key` as paths of PEM files (`amqps://host?ca=/etc/rabbitmq/ca.pem`). Code
   * wins over the URL. On `amqp://` they are a `configuration` error.
   */
  tls?: TlsOptions;
}

/** Options with every default filled in. */
export interface ResolvedRabbitMQOptions {
  connectTimeoutMs: number;
  heartbeat: number;
  maxMessageBytes: number;
  reconnect: boolean;
  reconnectDelayMs: number;
  reconnectMaxDelayMs: number;
  sendTimeoutMs: number;
  pollIntervalMs: number;
  streamRetentionMs: number;
  connectionName: string;
  streams: boolean;
  /** Shards per queue and per topic group; undefined = unpartitioned. */
  partitions: number | undefined;
  rebalanceIntervalMs: number;
  /** Type of the queues declared for queues and topic groups. */
  queueType: QueueType;
  tls: TlsOptions | undefined;
}

/** The queue types the adapter can declare for queues and topic groups. */
export const QUEUE_TYPES = ['classic', 'quorum'] as const;
export type QueueType = (typeof QUEUE_TYPES)[number];

/** The most shards a destination may have (each is a queue, and each member consumes every one on a channel of its own). */
export const MAX_PARTITIONS = 256;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const schema = z
  .object({
    connectTimeoutMs: int(1, 600_000).optional(),
    heartbeat: int(0, 3600).optional(),
    maxMessageBytes: int(1, 512 * 1024 * 1024).optional(),
    reconnect: z.boolean().optional(),
    reconnectDelayMs: int(1, 60_000).optional(),
    reconnectMaxDelayMs: int(1, 600_000).optional(),
    sendTimeoutMs: int(1, 600_000).optional(),
    pollIntervalMs: int(1, 10_000).optional(),
    streamRetentionMs: int(1000, 365 * 24 * 3600_000).optional(),
    connectionName: z.string().min(1).max(200).optional(),
    streams: z.boolean().optional(),
    partitions: int(1, MAX_PARTITIONS).optional(),
    rebalanceIntervalMs: int(50, 600_000).optional(),
    queueType: z.enum(QUEUE_TYPES).optional(),
    tls: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const NUMERIC = new Set(['connectTimeoutMs', 'heartbeat', 'maxMessageBytes', 'reconnectDelayMs', 'reconnectMaxDelayMs', 'sendTimeoutMs', 'pollIntervalMs', 'streamRetentionMs', 'partitions', 'rebalanceIntervalMs']);
const BOOLEAN = new Set(['reconnect', 'streams']);

/** Where to connect: one entry per host of the URL, tried in order. */
export interface RabbitMQEndpoint {
  protocol: 'amqp' | 'amqps';
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
}

/**
 * Validates the URL and options together and reports every problem in one `configuration` error.
 * URL query parameters are read as options; values given in code take precedence.
 */
export function resolveRabbitOptions(url: ParsedUrl, options: RabbitMQOptions = {}): { endpoints: RabbitMQEndpoint[]; options: ResolvedRabbitMQOptions } {
  const problems: string[] = [];
  if (url.scheme !== 'amqp' && url.scheme !== 'amqps') problems.push(`scheme "${url.scheme}://" is not amqp:// or amqps://`);
  const fromUrl: Record<string, unknown> = {};
  const tlsFiles = readTlsFiles({ ca: url.params.ca, cert: url.params.cert, key: url.params.key }, problems);
  if (tlsFiles && url.scheme === 'amqp') problems.push('ca, cert and key are TLS files, but amqp:// is plain TCP (use amqps://)');
  for (const [k, v] of Object.entries(url.params)) {
    if (k === 'ca' || k === 'cert' || k === 'key') continue;
    if (NUMERIC.has(k)) {
      const n = Number(v);
      fromUrl[k] = v.trim() !== '' && Number.isFinite(n) ? n : v;
    } else if (BOOLEAN.has(k)) {
      fromUrl[k] = v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v;
    } else {
      fromUrl[k] = v;
    }
  }
  const merged: Record<string, unknown> = { ...fromUrl };
  // `drivers` is core's (which drivers `connect` may use), not an option of this one.
  for (const [k, v] of Object.entries(options)) if (v !== undefined && k !== 'drivers') merged[k] = v;
  let parsed: z.output<typeof schema> = {};
  try {
    parsed = validateOptions(schema, merged, 'RabbitMQ options');
  } catch (err) {
    problems.push(...(((err as { details?: { problems?: string[] } }).details?.problems) ?? [String(err)]));
  }
  if (url.hosts.length === 0) problems.push('the URL names no host (expected amqp://[user:password@]host[:port][/vhost])');
  if (problems.length) throw configurationError(`RabbitMQ URL ${url.redacted}`, problems);

  const protocol = url.scheme as 'amqp' | 'amqps';
  const endpoints = url.hosts.map((h) => ({
    protocol,
    hostname: h.host,
    port: h.port ?? (protocol === 'amqps' ? 5671 : 5672),
    username: url.username ?? 'guest',
    password: url.password ?? 'guest',
    vhost: url.path === '' ? '/' : url.path,
  }));
  return {
    endpoints,
    options: {
      connectTimeoutMs: parsed.connectTimeoutMs ?? 10_000,
      heartbeat: parsed.heartbeat ?? 10,
      maxMessageBytes: parsed.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      reconnect: parsed.reconnect ?? true,
      reconnectDelayMs: parsed.reconnectDelayMs ?? 100,
      reconnectMaxDelayMs: parsed.reconnectMaxDelayMs ?? 5000,
      sendTimeoutMs: parsed.sendTimeoutMs ?? 15_000,
      pollIntervalMs: parsed.pollIntervalMs ?? 50,
      streamRetentionMs: parsed.streamRetentionMs ?? 24 * 3600_000,
      connectionName: parsed.connectionName ?? 'switchboard',
      streams: parsed.streams ?? true,
      partitions: parsed.partitions,
      rebalanceIntervalMs: parsed.rebalanceIntervalMs ?? 1000,
      queueType: parsed.queueType ?? 'classic',
      tls: (parsed.tls as TlsOptions | undefined) ?? tlsFiles,
    },
  };
}
