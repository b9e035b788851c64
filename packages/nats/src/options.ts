import { SwitchboardError, type ParsedUrl } from '@switchboard/core';
import { validateOptions } from '@switchboard/core/driver';
import { z } from 'zod';

/** Which NATS API a connection uses. */
export type NatsMode = 'jetstream' | 'core';

/**
 * Options of {@link connectNats}. Every one can also be given as a URL query parameter
 * (`nats://host:4222?storage=memory&duplicateWindowMs=60000`); options given in code win.
 */
export interface NatsOptions {
  /** Give up connecting after this long with a `connection` error (default 10000 ms). */
  connectTimeoutMs?: number;
  /** `jetstream` (nats://, nats+js://) or `core` (nats+core://). Defaults from the scheme. */
  mode?: NatsMode;
  /** Client name shown by the server (default "switchboard"). */
  name?: string;
  /** Prefix of the subjects behind JetStream destinations (default "sb": `sb.q.<queue>`, `sb.t.<topic>`). */
  subjectPrefix?: string;
  /** Prefix of stream names (default "SB": `SB_Q_<queue>`, `SB_T_<topic>`). */
  streamPrefix?: string;
  /** Stream storage for streams this adapter creates (default "file"). */
  storage?: 'file' | 'memory';
  /** Replicas of streams this adapter creates (default 1). */
  replicas?: number;
  /** Nats-Msg-Id duplicate window of new streams (default 120000 ms). */
  duplicateWindowMs?: number;
  /** Max age of topic streams, unlimited when absent (DestinationOptions.retentionMs overrides). */
  retentionMs?: number;
  /** Pause between reconnect attempts (default 250 ms). The client retries for ever. */
  reconnectTimeWaitMs?: number;
  /** Deadline of JetStream API calls and publish acknowledgements (default 5000 ms). */
  apiTimeoutMs?: number;
  /**
   * How long one pull request of a consuming member waits on the server (default 30000 ms). While it
   * waits the server sends an idle heartbeat every half of it (at most every 15 s); a request whose
   * heartbeats stop is replaced, and so is every open request when the client reconnects.
   */
  pullExpiresMs?: number;
  /**
   * JetStream: whether `delivery.ack()` waits for the server to confirm the ack (default `true`).
   * `false` is a cheaper, weaker guarantee (what nats.js's `msg.ack()` does): the ack is written to
   * the connection and resolves at once, so an ack lost on the way (connection cut, consumer
   * deleted) is never reported and the message is delivered again after the consumer's ack_wait.
   * Still at-least-once; nacks, dead-lettering, extend and at-most-once acks still wait.
   */
  ackConfirm?: boolean;
  /**
   * JetStream only: per-key order across competing consumers. Each queue and topic of the
   * connection is split into `partitions` shards (subjects `<subjectPrefix>.qp.<name>.<shard>` /
   * `.tp.`), a keyed message goes to shard `shardOf(key, partitions)` (FNV-1a 32 of the key's UTF-8
   * bytes mod N), keyless ones round-robin. Every group has one durable consumer per shard with
   * `max_ack_pending: 1`, so one message per shard is in flight in the whole group at a time
   * (see the README, "Per-key order (partitions)"). Producers and consumers of one destination must
   * use the same N: the stream records it, and a connection with another N (or none) is refused
   * with a `configuration` error when it first uses the destination. Absent: unpartitioned.
   */
  partitions?: number;
}

export interface ResolvedNatsOptions {
  connectTimeoutMs: number;
  mode: NatsMode;
  name: string;
  subjectPrefix: string;
  streamPrefix: string;
  storage: 'file' | 'memory';
  replicas: number;
  duplicateWindowMs: number;
  retentionMs: number | undefined;
  reconnectTimeWaitMs: number;
  apiTimeoutMs: number;
  pullExpiresMs: number;
  ackConfirm: boolean;
  /** Shards per destination (JetStream only); undefined = unpartitioned. */
  partitions: number | undefined;
}

/** The largest `partitions` accepted (every group holds one durable consumer per shard). */
export const MAX_PARTITIONS = 1024;

const intFromString = (min: number, max: number) =>
  z.union([z.number(), z.string().regex(/^\d+$/, 'must be an integer').transform(Number)]).pipe(z.number().int().min(min).max(max));

const boolFromString = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

const token = z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only').min(1).max(32);

export const natsOptionsSchema = z
  .object({
    connectTimeoutMs: intFromString(1, 600_000).optional(),
    mode: z.enum(['jetstream', 'core']).optional(),
    name: z.string().min(1).max(200).optional(),
    subjectPrefix: token.optional(),
    streamPrefix: token.optional(),
    storage: z.enum(['file', 'memory']).optional(),
    replicas: intFromString(1, 5).optional(),
    duplicateWindowMs: intFromString(1, 7 * 24 * 3600_000).optional(),
    retentionMs: intFromString(1, Number.MAX_SAFE_INTEGER).optional(),
    reconnectTimeWaitMs: intFromString(1, 600_000).optional(),
    apiTimeoutMs: intFromString(100, 600_000).optional(),
    pullExpiresMs: intFromString(100, 600_000).optional(),
    ackConfirm: boolFromString.optional(),
    partitions: intFromString(1, MAX_PARTITIONS).optional(),
  })
  .strict();

/** Scheme -> mode. */
export function modeOfScheme(scheme: string): NatsMode | undefined {
  if (scheme === 'nats' || scheme === 'nats+js') return 'jetstream';
  if (scheme === 'nats+core') return 'core';
  return undefined;
}

/**
 * Merges URL query parameters under code options, validates everything at once (one
 * `configuration` error listing every problem) and fills in the defaults.
 */
export function resolveNatsOptions(url: ParsedUrl, options: NatsOptions | Record<string, unknown> = {}): ResolvedNatsOptions {
  const merged = { ...url.params, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const o = validateOptions(natsOptionsSchema, merged, `NATS options for ${url.redacted}`);
  const mode = o.mode ?? modeOfScheme(url.scheme) ?? 'jetstream';
  if (mode === 'core' && o.partitions !== undefined) {
    throw new SwitchboardError('configuration', `invalid NATS options for ${url.redacted}: partitions: core NATS (nats+core://) stores nothing and has no shards; use nats:// (JetStream) for partitions`, {
      details: { option: 'partitions' },
    });
  }
  return {
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    mode,
    name: o.name ?? 'switchboard',
    subjectPrefix: o.subjectPrefix ?? 'sb',
    streamPrefix: o.streamPrefix ?? 'SB',
    storage: o.storage ?? 'file',
    replicas: o.replicas ?? 1,
    duplicateWindowMs: o.duplicateWindowMs ?? 120_000,
    retentionMs: o.retentionMs,
    reconnectTimeWaitMs: o.reconnectTimeWaitMs ?? 250,
    apiTimeoutMs: o.apiTimeoutMs ?? 5000,
    pullExpiresMs: o.pullExpiresMs ?? 30_000,
    ackConfirm: o.ackConfirm ?? true,
    partitions: o.partitions,
  };
}
