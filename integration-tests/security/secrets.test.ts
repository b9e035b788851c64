// No secret of a production-style URL (a password, an NKey seed) appears in what Switchboard shows:
// errors (message, details, causes), log lines at every level, onError events, and the CLI's
// conformance report and progress. Runs on every TLS/authenticated URL `scripts/brokers env` gives
// (SWITCHBOARD_TEST_<NAME>_TLS_URL, SWITCHBOARD_TEST_NATS_NKEY_URL); under CI=true each one must be there.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, type Logger } from '@switchboard/core';
import '@switchboard/kafka';
import '@switchboard/rabbitmq';
import '@switchboard/nats';
import '@switchboard/sqs';
import '@switchboard/redis';
import { brokersRequired, REPO_ROOT } from '../harness';

const run = promisify(execFile);

/** The URLs under test, by environment variable. */
const URL_VARS = [
  'SWITCHBOARD_TEST_KAFKA_TLS_URL',
  'SWITCHBOARD_TEST_RABBITMQ_TLS_URL',
  'SWITCHBOARD_TEST_NATS_TLS_URL',
  'SWITCHBOARD_TEST_NATS_NKEY_URL',
  'SWITCHBOARD_TEST_SQS_TLS_URL',
  'SWITCHBOARD_TEST_REDIS_TLS_URL',
];

/**
 * The secrets a URL carries: its password, unless it is a well-known placeholder of a local
 * broker (RabbitMQ's guest, the emulator's test), and the contents of the credential files it names.
 */
function secretsOf(url: string): string[] {
  const u = new URL(url);
  const out: string[] = [];
  const password = decodeURIComponent(u.password);
  if (password && !['guest', 'test'].includes(password)) out.push(password);
  for (const param of ['nkey', 'creds', 'key']) {
    const file = u.searchParams.get(param);
    if (file) out.push(...readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length >= 16 && !l.startsWith('-----')));
  }
  return out;
}

/** Everything an error shows: message, code, details, and the same of each cause. */
function errorText(err: unknown, depth = 0): string {
  if (!(err instanceof Error) || depth > 5) return String(err);
  const e = err as Error & { code?: unknown; details?: unknown; cause?: unknown };
  return [e.name, e.message, String(e.code ?? ''), JSON.stringify(e.details ?? null), e.stack ?? '', e.cause !== undefined ? errorText(e.cause, depth + 1) : ''].join('\n');
}

/** A logger that keeps every line, with its fields and errors rendered. */
function capturing(lines: string[]): Logger {
  const keep = (level: string) => (...args: unknown[]) => void lines.push(`${level} ${args.map((a) => (a instanceof Error ? errorText(a) : typeof a === 'string' ? a : JSON.stringify(a, (_k, v: unknown) => (v instanceof Error ? errorText(v) : v)))).join(' ')}`);
  return { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

const withParam = (url: string, param: string) => `${url}${url.includes('?') ? '&' : '?'}${param}`;
const wrongPassword = (url: string) => {
  const u = new URL(url);
  u.password = 'sb-wrong-password-0123456789';
  return u.toString();
};

describe('secrets', () => {
  const present = URL_VARS.filter((v) => process.env[v]);
  if (present.length < URL_VARS.length) {
    const missing = URL_VARS.filter((v) => !process.env[v]);
    if (brokersRequired()) test('secrets - every TLS URL is given (CI=true)', () => expect(missing).toEqual([]));
    else process.stderr.write(`\n!!! secrets: no ${missing.join(', ')} (scripts/brokers up && eval "$(scripts/brokers env)"): those URLs are not checked\n\n`);
  }

  for (const name of present) {
    const url = process.env[name]!;
    test(`secrets - ${name}: no secret in errors, log lines, onError events or the CLI report`, async () => {
      const secrets = secretsOf(url);
      const shown: string[] = [];
      const logger = capturing(shown);
      const onError = (e: unknown) => void shown.push(`onError ${JSON.stringify(e, (_k, v: unknown) => (v instanceof Error ? errorText(v) : v))}`);
      // A working connection, logging at every level.
      const conn = await connect(withParam(url, 'connectTimeoutMs=20000'), { logger, onError });
      shown.push(String(conn), JSON.stringify(conn.capabilities ?? null));
      await conn.close();
      // Refused credentials (where the URL has a password), a bad option, and an unreachable port.
      if (new URL(url).password) shown.push(errorText(await connect(wrongPassword(url), { logger, onError, connectTimeoutMs: 8000 }).then(async (c) => { await c.close(); return 'connected'; }, (e: unknown) => e)));
      shown.push(errorText(await connect(withParam(url, 'noSuchOption=1'), { logger, onError }).catch((e: unknown) => e)));
      const unreachable = new URL(url);
      unreachable.port = '1';
      shown.push(errorText(await connect(unreachable.toString(), { logger, onError, connectTimeoutMs: 2000 }).catch((e: unknown) => e)));
      // The CLI: its report (stdout) and progress (stderr).
      const cli = path.join(REPO_ROOT, 'packages/cli/dist/bin.js');
      const r = await run(process.execPath, [cli, 'conformance', '--url', url, '--only', 'RF1,B5,B6', '--json'], { maxBuffer: 32 << 20 }).catch((e: { stdout?: string; stderr?: string }) => e);
      shown.push(r.stdout ?? '', r.stderr ?? '');
      // The report is there (the run reached the broker), so its text was really checked.
      expect(r.stdout ?? '').toContain('"B5"');
      expect(shown.join('\n').length).toBeGreaterThan(200);
      const text = shown.join('\n');
      for (const s of secrets) expect(text.includes(s) ? `${name}: a secret of ${s.length} characters appears in what was shown` : 'none').toBe('none');
    }, 180_000);
  }
});
