import { configurationError, type ParsedUrl } from '@switchboard/core';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { readTlsFiles, validateOptions } from '@switchboard/core/driver';
import { z } from 'zod';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './codec';

/** Static credentials, or any AWS SDK credential provider. */
export type SqsCredentials =
  | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | (() => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }>);

/**
 * Options of the SQS + SNS adapter. Every one can also be given as a URL query parameter
 * (except `credentials`); options passed in code win over the URL.
 */
export interface SqsOptions {
  /** Give up connecting after this long with a `connection` error (default 10000 ms). */
  connectTimeoutMs?: number;
  /** AWS region (default: the host of `sqs://<region>`, else `us-east-1` for custom endpoints). */
  region?: string;
  /** Endpoint override, e.g. `http://127.0.0.1:4566` (set by `sqs+http://host:port`). */
  endpoint?: string;
  /**
   * Credentials. Default: user:password of the URL when given; else dummy static credentials for
   * `sqs+http://` (emulators) and the AWS default credential chain otherwise.
   */
  credentials?: SqsCredentials;
  /** Prepended to every queue and topic name this connection creates or uses (a namespace). */
  prefix?: string;
  /**
   * Long-poll slice in seconds (1-20, default 1). Receives are never aborted mid-flight (an aborted
   * long poll can still take a message on the server, hiding it for the visibility timeout), so
   * closing a consumer waits at most this long; longer slices cost fewer requests.
   */
  receiveWaitSeconds?: number;
  /** Largest message accepted, as SQS/SNS count it (default 262144 = 256 KiB; SNS caps it there). */
  maxPayloadBytes?: number;
  /** Attempts per AWS call, including the first (default 3). */
  sdkMaxAttempts?: number;
  /** Socket idle timeout per request (default 30000 ms; must exceed the long-poll slice). */
  requestTimeoutMs?: number;
  /** HTTP sockets per client (default 256). */
  maxSockets?: number;
  /** How long sends and acks wait to fill a batch of 10 (default 2 ms). */
  batchLingerMs?: number;
  /**
   * Visibility in seconds given to nacked (without delay) and released messages (0-60). Default 0
   * (visible at once) against AWS, 1 against custom endpoints: fauxqs 2.4.1 with persistence loses
   * a message whose visibility is set to 0 (its SQLite write fails after the message left the
   * in-flight set), so emulators get a one-second floor.
   */
  minRedeliverySeconds?: number;
  /**
   * FIFO mode (default false): every queue and topic is FIFO (`.fifo` is appended to names that
   * lack it). Keys become MessageGroupIds (per-key order), message ids MessageDeduplicationIds
   * (broker dedup for 5 minutes). Costs FIFO throughput limits and emulated delays.
   */
  fifo?: boolean;
  /**
   * Keep unacked deliveries invisible while their handler runs: every half ack timeout the
   * visibility is pushed one ack timeout ahead, until settled (default false).
   */
  heartbeat?: boolean;
  /**
   * TLS settings of the https agent (`sqs+https://` and `sqs://`): e.g. `{ ca }` for an endpoint
   * behind a private CA. By URL: `ca`, `cert`, `key` as paths of PEM files. Code wins over the URL.
   */
  tls?: TlsOptions;
}

/** Options with every default filled in, plus what the URL said. */
export interface ResolvedSqsOptions {
  connectTimeoutMs: number;
  region: string;
  endpoint: string | undefined;
  credentials: SqsCredentials | undefined;
  prefix: string;
  receiveWaitSeconds: number;
  maxPayloadBytes: number;
  sdkMaxAttempts: number;
  requestTimeoutMs: number;
  maxSockets: number;
  batchLingerMs: number;
  heartbeat: boolean;
  minRedeliverySeconds: number;
  fifo: boolean;
  /** True when an endpoint other than AWS's own was given (an emulator or a proxy). */
  customEndpoint: boolean;
  /** TLS settings of the https agent, if any. */
  tls: TlsOptions | undefined;
  /** The URL with secrets removed, for messages and `connection.url`. */
  redactedUrl: string;
}

const numeric = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), schema);
const booleanish = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());

const credentialsSchema = z.union([
  z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1), sessionToken: z.string().optional() }),
  z.custom<() => Promise<never>>((v) => typeof v === 'function', 'a credential provider function'),
]);

const optionsSchema = z
  .object({
    connectTimeoutMs: numeric(z.number().int().positive().max(600_000)).optional(),
    region: z.string().regex(/^[a-z0-9-]+$/, 'a region like us-east-1').optional(),
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    credentials: credentialsSchema.optional(),
    prefix: z.string().regex(/^[A-Za-z0-9_-]{0,40}$/, 'letters, digits, "-" and "_", at most 40').optional(),
    receiveWaitSeconds: numeric(z.number().int().min(1).max(20)).optional(),
    maxPayloadBytes: numeric(z.number().int().min(1024).max(1_048_576)).optional(),
    sdkMaxAttempts: numeric(z.number().int().min(1).max(10)).optional(),
    requestTimeoutMs: numeric(z.number().int().min(1000).max(600_000)).optional(),
    maxSockets: numeric(z.number().int().min(1).max(4096)).optional(),
    batchLingerMs: numeric(z.number().int().min(0).max(1000)).optional(),
    heartbeat: booleanish.optional(),
    minRedeliverySeconds: numeric(z.number().int().min(0).max(60)).optional(),
    fifo: booleanish.optional(),
    tls: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const URL_PARAMS = new Set(['region', 'prefix', 'receiveWaitSeconds', 'maxPayloadBytes', 'sdkMaxAttempts', 'requestTimeoutMs', 'maxSockets', 'batchLingerMs', 'heartbeat', 'minRedeliverySeconds', 'fifo', 'connectTimeoutMs', 'sessionToken', 'ca', 'cert', 'key']);

/**
 * Resolves the URL and options in one place. URL forms:
 * - `sqs://<region>` (AWS, default credential chain; `sqs://` alone needs `?region=`)
 * - `sqs+http://host:port?region=us-east-1` and `sqs+https://host[:port]` (custom endpoint)
 * - `user:password@` gives an access key id and secret; `?sessionToken=` a session token.
 * Throws one `configuration` error listing every problem; secrets never appear in it.
 */
export function resolveSqsOptions(url: ParsedUrl, options: Record<string, unknown> = {}): ResolvedSqsOptions {
  const problems: string[] = [];
  if (!['sqs', 'sqs+http', 'sqs+https'].includes(url.scheme)) problems.push(`scheme "${url.scheme}://" is not served by the SQS adapter (use sqs://, sqs+http:// or sqs+https://)`);
  if (url.hosts.length > 1) problems.push('give one host (a region for sqs://, the endpoint for sqs+http(s)://)');
  if (url.path) problems.push(`unexpected path "/${url.path}"`);
  const fromUrl: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(url.params)) {
    if (!URL_PARAMS.has(k)) problems.push(`unknown query parameter "${k}" (known: ${[...URL_PARAMS].join(', ')})`);
    else if (k !== 'sessionToken' && k !== 'ca' && k !== 'cert' && k !== 'key') fromUrl[k] = v;
  }
  const tlsFiles = readTlsFiles({ ca: url.params.ca, cert: url.params.cert, key: url.params.key }, problems);
  if (tlsFiles && url.scheme === 'sqs+http') problems.push('ca, cert and key are TLS files, but sqs+http:// is plain HTTP (use sqs+https://)');
  const host = url.hosts[0];
  let endpoint: string | undefined;
  let regionFromHost: string | undefined;
  if (url.scheme === 'sqs') {
    if (host) {
      if (host.port !== undefined) problems.push('sqs://<region> takes no port; use sqs+http(s)://host:port for an endpoint');
      regionFromHost = host.host;
    }
  } else if (host) {
    const proto = url.scheme === 'sqs+http' ? 'http' : 'https';
    const h = host.host.includes(':') ? `[${host.host}]` : host.host;
    endpoint = `${proto}://${h}${host.port !== undefined ? `:${host.port}` : ''}`;
  } else if (url.scheme !== 'sqs') {
    problems.push(`${url.scheme}:// needs a host, e.g. ${url.scheme}://127.0.0.1:4566`);
  }
  if ((url.username !== undefined || url.password !== undefined) && (!url.username || !url.password)) {
    problems.push('credentials in the URL need both an access key id and a secret (user:password@)');
  }
  const { connectTimeoutMs: ct, ...rest } = options;
  const merged: Record<string, unknown> = { ...fromUrl, ...(regionFromHost ? { region: regionFromHost } : {}), ...(endpoint ? { endpoint } : {}), ...rest };
  if (ct !== undefined) merged.connectTimeoutMs = ct;
  let parsed: z.output<typeof optionsSchema> = {};
  try {
    parsed = validateOptions(optionsSchema, merged, `SQS options for ${url.redacted}`);
  } catch (err) {
    const more = ((err as { details?: { problems?: string[] } }).details?.problems ?? []) as string[];
    problems.push(...more);
  }
  const region = parsed.region ?? (parsed.endpoint ? 'us-east-1' : undefined);
  if (!region && problems.length === 0) problems.push('no region: use sqs://<region> (e.g. sqs://us-east-1) or ?region=');
  if ((parsed.requestTimeoutMs ?? 30_000) <= (parsed.receiveWaitSeconds ?? 1) * 1000 + 1000) {
    problems.push('requestTimeoutMs must exceed receiveWaitSeconds by more than a second');
  }
  if (problems.length) throw configurationError(`SQS URL ${url.redacted}`, problems);

  let credentials = parsed.credentials as SqsCredentials | undefined;
  if (!credentials && url.username && url.password) {
    credentials = { accessKeyId: url.username, secretAccessKey: url.password, ...(url.params.sessionToken ? { sessionToken: url.params.sessionToken } : {}) };
  }
  if (!credentials && url.scheme === 'sqs+http') credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  return {
    connectTimeoutMs: parsed.connectTimeoutMs ?? 10_000,
    region: region!,
    endpoint: parsed.endpoint,
    credentials,
    prefix: parsed.prefix ?? '',
    receiveWaitSeconds: parsed.receiveWaitSeconds ?? 1,
    maxPayloadBytes: parsed.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    sdkMaxAttempts: parsed.sdkMaxAttempts ?? 3,
    requestTimeoutMs: parsed.requestTimeoutMs ?? 30_000,
    maxSockets: parsed.maxSockets ?? 256,
    batchLingerMs: parsed.batchLingerMs ?? 2,
    heartbeat: parsed.heartbeat ?? false,
    minRedeliverySeconds: parsed.minRedeliverySeconds ?? (parsed.endpoint !== undefined ? 1 : 0),
    fifo: parsed.fifo ?? false,
    customEndpoint: parsed.endpoint !== undefined,
    tls: (parsed.tls as TlsOptions | undefined) ?? tlsFiles,
    redactedUrl: url.redacted,
  };
}
