import { configurationError, SwitchboardError, type ParsedUrl } from '@switchboard/core';
import { readParamFile, readTlsFiles, validateOptions } from '@switchboard/core/driver';
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
  /**
   * TLS: `true` to require it with Node's trusted CAs, or PEM text of the CA to trust and of a client
   * certificate and key. By URL: `tls=true`, and `ca`, `cert`, `key` as paths of PEM files (they imply
   * TLS). Absent: no TLS, even when the server offers it.
   */
  tls?: boolean | NatsTlsOptions;
  /** NKey authentication: the user's seed (`SU...`). By URL: `nkey=<path of a file holding the seed>`. */
  nkeySeed?: string;
  /** JWT authentication: the contents of a `.creds` file. By URL: `creds=<path of the file>`. */
  credentials?: string;
}

/** PEM text for a TLS connection to NATS. */
export interface NatsTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
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
  /** TLS to require (PEM text), or undefined: none. */
  tls: NatsTlsOptions | undefined;
  /** NKey seed or creds file contents, when one of them authenticates the connection. */
  auth: { kind: 'nkey'; seed: string } | { kind: 'creds'; creds: string } | undefined;
}

/** URL query parameters of TLS and credential files (read here, never validated as options). */
const SECURITY_PARAMS = new Set(['tls', 'ca', 'cert', 'key', 'nkey', 'creds']);

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
    tls: z.union([z.boolean(), z.object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).strict()]).optional(),
    nkeySeed: z.string().regex(/^SU[A-Z2-7]+$/, 'an NKey user seed (SU...)').optional(),
    credentials: z.string().includes('-----BEGIN NATS USER JWT-----', { message: 'the contents of a .creds file' }).optional(),
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
  const params = Object.fromEntries(Object.entries(url.params).filter(([k]) => !SECURITY_PARAMS.has(k)));
  const merged = { ...params, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const o = validateOptions(natsOptionsSchema, merged, `NATS options for ${url.redacted}`);
  const security = resolveSecurity(url, o);
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
    ...security,
  };
}

/**
 * TLS and NKey / creds authentication from code options, else from the URL's file parameters. A file
 * that cannot be read is a `configuration` error naming the parameter and path, never its content.
 */
function resolveSecurity(url: ParsedUrl, o: { tls?: boolean | NatsTlsOptions | undefined; nkeySeed?: string | undefined; credentials?: string | undefined }): Pick<ResolvedNatsOptions, 'tls' | 'auth'> {
  const problems: string[] = [];
  const q = url.params;
  let tls: NatsTlsOptions | undefined;
  if (o.tls !== undefined) tls = o.tls === false ? undefined : o.tls === true ? {} : o.tls;
  else {
    const files = readTlsFiles({ ca: q.ca, cert: q.cert, key: q.key }, problems);
    if (q.tls !== undefined && q.tls !== 'true' && q.tls !== 'false') problems.push(`tls: "${q.tls}" is not true or false`);
    if (files && q.tls === 'false') problems.push('ca, cert and key are TLS files, but the URL says tls=false');
    else if (files || q.tls === 'true') tls = { ...(files as NatsTlsOptions | undefined) };
  }
  const read = (param: 'nkey' | 'creds'): string | undefined => (q[param] === undefined ? undefined : readParamFile(param, q[param], problems)?.trim());
  const seed = o.nkeySeed ?? read('nkey');
  const creds = o.credentials ?? read('creds');
  if (seed !== undefined && creds !== undefined) problems.push('give an NKey seed or a creds file, not both');
  if (seed !== undefined && !/^SU[A-Z2-7]+$/.test(seed)) problems.push('nkey: the file does not hold an NKey user seed (SU...)');
  if ((seed !== undefined || creds !== undefined) && url.username) problems.push('an NKey or creds file authenticates on its own: drop the user from the URL');
  if (problems.length > 0) throw configurationError(`NATS options for ${url.redacted}`, problems);
  return { tls, auth: seed !== undefined ? { kind: 'nkey', seed } : creds !== undefined ? { kind: 'creds', creds } : undefined };
}
