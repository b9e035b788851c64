import fs from 'node:fs';
import { SwitchboardError } from './errors';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

/**
 * The text of the file a URL parameter names (a PEM file, an NKey seed, a creds file), or `undefined`
 * with a problem pushed that names the parameter and path, never the content.
 */
export function readParamFile(param: string, path: string, problems: string[]): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`${param}: cannot read the file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
}

/** TLS files a URL can name by path (`?ca=/etc/ssl/ca.pem&cert=...&key=...`), the same on every backend. */
export interface TlsFileParams {
  /** PEM file of the certificate authorities to trust (replaces Node's default list). */
  readonly ca?: string | undefined;
  /** PEM file of the client certificate (mutual TLS), with `key`. */
  readonly cert?: string | undefined;
  /** PEM file of the client certificate's private key, with `cert`. */
  readonly key?: string | undefined;
}

/** The URL query parameters {@link readTlsFiles} reads. */
export const TLS_FILE_PARAMS = ['ca', 'cert', 'key'] as const;

/**
 * Reads the TLS files named in `params` into Node TLS options (`ca`, `cert`, `key` as PEM text), or
 * `undefined` when none is named. Problems (a file that cannot be read, `cert` without `key`) are
 * pushed to `problems`, naming the parameter and path, never the file's content.
 */
export function readTlsFiles(params: TlsFileParams, problems: string[]): TlsOptions | undefined {
  if (params.ca === undefined && params.cert === undefined && params.key === undefined) return undefined;
  const out: { ca?: string; cert?: string; key?: string } = {};
  for (const name of TLS_FILE_PARAMS) {
    const path = params[name];
    if (path === undefined) continue;
    const text = readParamFile(name, path, problems);
    if (text !== undefined) out[name] = text;
  }
  if ((params.cert === undefined) !== (params.key === undefined)) problems.push('cert and key go together: a client certificate needs its private key');
  return out;
}

/** Node's codes for a TLS handshake that failed on the certificate or protocol: retrying cannot help. */
const TLS_FAILURE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * When `err` (or one of its causes) is a TLS handshake that failed on the server's certificate or
 * the protocol, the `connection` error to report for it (not retryable: the next attempt fails the
 * same way), naming what to fix; otherwise `undefined`.
 */
export function tlsFailure(err: unknown, backend: string): SwitchboardError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && TLS_FAILURE_CODES.has(code)) {
      const hint = code === 'ERR_SSL_WRONG_VERSION_NUMBER' ? 'is this port speaking TLS?' : "give the CA that signed the server's certificate (?ca=<PEM file>) or fix the host name";
      return new SwitchboardError('connection', `${backend}: TLS handshake failed (${code}: ${e.message}); ${hint}`, { cause: err, retryable: false });
    }
  }
  return undefined;
}
