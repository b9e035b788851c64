import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseUrl, SwitchboardError } from '@switchboard/core';
import { resolveSqsOptions } from '@switchboard/sqs';

const resolve = (url: string, options?: Record<string, unknown>) => resolveSqsOptions(parseUrl(url), options);

describe('options - URL forms', () => {
  it('sqs://<region> targets AWS with the default credential chain', () => {
    const o = resolve('sqs://eu-west-1');
    expect(o.region).toBe('eu-west-1');
    expect(o.endpoint).toBeUndefined();
    expect(o.credentials).toBeUndefined();
    expect(o.customEndpoint).toBe(false);
  });

  it('sqs+http://host:port is a custom endpoint with dummy credentials', () => {
    const o = resolve('sqs+http://127.0.0.1:4566?region=us-east-1');
    expect(o.endpoint).toBe('http://127.0.0.1:4566');
    expect(o.region).toBe('us-east-1');
    expect(o.credentials).toEqual({ accessKeyId: 'test', secretAccessKey: 'test' });
    expect(o.customEndpoint).toBe(true);
  });

  it('user:password become static credentials, never shown in the redacted URL', () => {
    const o = resolve('sqs+https://AKIA123:s3cret@sqs.example.com?region=eu-central-1&sessionToken=tok');
    expect(o.credentials).toEqual({ accessKeyId: 'AKIA123', secretAccessKey: 's3cret', sessionToken: 'tok' });
    expect(o.endpoint).toBe('https://sqs.example.com');
    expect(o.redactedUrl).not.toContain('s3cret');
    expect(o.redactedUrl).not.toContain('tok');
  });

  it('takes numeric query parameters and code options over the URL', () => {
    const o = resolve('sqs+http://localhost:4566?receiveWaitSeconds=5&prefix=app-', { receiveWaitSeconds: 2, connectTimeoutMs: 1234 });
    expect(o.receiveWaitSeconds).toBe(2);
    expect(o.prefix).toBe('app-');
    expect(o.connectTimeoutMs).toBe(1234);
  });

  it('lists every problem at once', () => {
    let err: unknown;
    try {
      resolve('sqs+http://localhost:4566?bogus=1&receiveWaitSeconds=99&maxPayloadBytes=x', { prefix: 'bad prefix!' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SwitchboardError);
    const e = err as SwitchboardError;
    expect(e.code).toBe('configuration');
    const problems = e.details.problems as string[];
    expect(problems.length).toBeGreaterThanOrEqual(4);
    expect(problems.join('\n')).toMatch(/bogus/);
    expect(problems.join('\n')).toMatch(/receiveWaitSeconds/);
    expect(problems.join('\n')).toMatch(/maxPayloadBytes/);
    expect(problems.join('\n')).toMatch(/prefix/);
  });

  it('needs a region for sqs://', () => {
    expect(() => resolve('sqs://')).toThrow(/region/);
  });
});

describe('options - TLS', () => {
  it('options - ca, cert and key in an sqs+https:// URL are PEM files for the https agent; code tls wins; on sqs+http:// they are a configuration error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sqs-tls-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      fs.writeFileSync(ca, 'CA PEM');
      expect(resolve(`sqs+https://a:b@127.0.0.1:4567?ca=${ca}`).tls).toEqual({ ca: 'CA PEM' });
      expect(resolve(`sqs+https://a:b@127.0.0.1:4567?ca=${ca}`, { tls: { servername: 'x' } }).tls).toEqual({ servername: 'x' });
      expect(resolve('sqs+https://a:b@127.0.0.1:4567').tls).toBeUndefined();
      expect(() => resolve(`sqs+http://127.0.0.1:4566?ca=${ca}`)).toThrow(/plain HTTP/);
      expect(() => resolve(`sqs+https://a:b@127.0.0.1:4567?cert=${ca}`)).toThrow(/cert and key go together/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
