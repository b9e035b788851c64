import fs from 'node:fs';
import path from 'node:path';
import { backendForScheme, parseUrl } from '@switchboard/core';

/** This package's root folder (works from src/ under jest and from dist/). */
function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === '@switchboard/conformance') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the @switchboard/conformance package root');
    dir = up;
  }
}

/**
 * The ack timeout of AL2's child consumer (and of the member that takes over). Where the broker
 * learns of the crash only through an ack deadline (SQS visibility, JetStream ack_wait), this is
 * how long the case waits: short, so it takes seconds, not a minute. Brokers that notice a dead
 * consumer (a closed connection, a session timeout) do not need it, and the child's own timer dies
 * with the child.
 */
export const CRASH_CHILD_ACK_TIMEOUT_MS = 10_000;

/** The compiled child consumer that AL2 starts and kills (needs `pnpm build`). */
export function crashConsumerScript(): string {
  const script = path.join(packageRoot(), 'dist', 'child', 'crash-consumer.js');
  if (!fs.existsSync(script)) throw new Error(`${script} is missing: build @switchboard/conformance first`);
  return script;
}

/** Where the adapter package for `url` lives, so a child process can load it. */
export function resolveDriverPackageDir(url: string, given?: string): string {
  if (given) return given;
  const pkg = backendForScheme(parseUrl(url).scheme)?.package;
  if (!pkg) throw new Error(`no adapter package known for ${parseUrl(url).redacted}`);
  const bases = [process.cwd(), require.main?.path, __dirname].filter((b): b is string => !!b);
  for (const base of bases) {
    try {
      return path.dirname(require.resolve(`${pkg}/package.json`, { paths: [base] }));
    } catch {
      // try the next base
    }
  }
  throw new Error(`cannot resolve ${pkg} from ${bases.join(', ')}`);
}
