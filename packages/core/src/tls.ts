import fs from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';

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
    try {
      out[name] = fs.readFileSync(path, 'utf8');
    } catch (err) {
      problems.push(`${name}: cannot read the file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if ((params.cert === undefined) !== (params.key === undefined)) problems.push('cert and key go together: a client certificate needs its private key');
  return out;
}
