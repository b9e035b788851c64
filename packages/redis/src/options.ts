import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { configurationError, type ParsedUrl } from '@switchboard/core';
import { readTlsFiles, validateOptions } from '@switchboard/core/driver';
import { z } from 'zod';

/**
 * Options of {@link connectRedis}. Each can also be a URL query parameter
 * (`redis://127.0.0.1:6379?prefix=app&blockMs=1000`); options given in code win.
 */
export interface RedisOptions {
  /** Give up connecting after this long with a `connection` error (default 10000 ms). */
  connectTimeoutMs?: number;
  /** Prefix of every key this adapter makes (default "sb": streams `sb:q:<queue>`, `sb:t:<topic>`). */
  prefix?: string;
  /** How long one blocking read (XREADGROUP / XREAD BLOCK) waits on the server before it is issued again (default 2000 ms). */
  blockMs?: number;
  /** Largest message (body + key + headers) the adapter sends (default 16 MiB; Redis's proto-max-bulk-len is 512 MB). */
  maxMessageBytes?: number;
  /** Pause between reconnect attempts (default 250 ms). The client retries for ever. */
  reconnectDelayMs?: number;
  /** How long a reply stream lives after its last reply (default 60000 ms). */
  replyTtlMs?: number;
  /**
   * Max age of topic streams' entries, unlimited when absent; `ensureDestination(topic, { retentionMs })`
   * overrides it for that topic. Each XADD to a topic trims (`MINID ~`) entries older than this by the
   * publisher's clock, a whole stream node at a time, so a few older entries may outlive it.
   */
  retentionMs?: number;
  /**
   * TLS settings of `rediss://` connections (Node TLS options: `ca`, `cert`, `key`, `servername`, ...).
   * By URL: `ca`, `cert`, `key` as paths of PEM files (`rediss://host:6380?ca=/etc/redis/ca.pem`).
   * Code wins over the URL. On `redis://` they are a `configuration` error.
   */
  tls?: TlsOptions;
}

export interface ResolvedRedisOptions {
  connectTimeoutMs: number;
  prefix: string;
  blockMs: number;
  maxMessageBytes: number;
  reconnectDelayMs: number;
  replyTtlMs: number;
  retentionMs: number | undefined;
  tls: TlsOptions | undefined;
}

const intFromString = (min: number, max: number) =>
  z.union([z.number(), z.string().regex(/^\d+$/, 'must be an integer').transform(Number)]).pipe(z.number().int().min(min).max(max));

export const redisOptionsSchema = z
  .object({
    connectTimeoutMs: intFromString(1, 600_000).optional(),
    prefix: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only').min(1).max(32).optional(),
    blockMs: intFromString(10, 600_000).optional(),
    maxMessageBytes: intFromString(1024, 512 * 1024 * 1024).optional(),
    reconnectDelayMs: intFromString(1, 600_000).optional(),
    replyTtlMs: intFromString(1000, 24 * 3600_000).optional(),
    retentionMs: intFromString(1, Number.MAX_SAFE_INTEGER).optional(),
    tls: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/**
 * Merges URL query parameters under code options, validates everything at once (one
 * `configuration` error listing every problem) and fills in the defaults.
 */
export function resolveRedisOptions(url: ParsedUrl, options: RedisOptions | Record<string, unknown> = {}): ResolvedRedisOptions {
  const { ca, cert, key, ...params } = url.params;
  const problems: string[] = [];
  const files = readTlsFiles({ ca, cert, key }, problems);
  if (files && url.scheme !== 'rediss') problems.push('ca, cert and key are TLS files, but redis:// is plain TCP (use rediss://)');
  if (problems.length > 0) throw configurationError(`Redis options for ${url.redacted}`, problems);
  const merged = { ...params, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const o = validateOptions(redisOptionsSchema, merged, `Redis options for ${url.redacted}`);
  return {
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    prefix: o.prefix ?? 'sb',
    blockMs: o.blockMs ?? 2000,
    maxMessageBytes: o.maxMessageBytes ?? 16 * 1024 * 1024,
    reconnectDelayMs: o.reconnectDelayMs ?? 250,
    replyTtlMs: o.replyTtlMs ?? 60_000,
    retentionMs: o.retentionMs,
    tls: (o.tls as TlsOptions | undefined) ?? files,
  };
}
