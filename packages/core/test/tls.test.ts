import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTlsFiles, tlsFailure } from '../src/tls';

describe('tls', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-tls-'));
  const ca = path.join(dir, 'ca.pem');
  fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const key = path.join(dir, 'client.key');
  fs.writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('tls - no file named: no TLS options and no problem', () => {
    const problems: string[] = [];
    expect(readTlsFiles({}, problems)).toBeUndefined();
    expect(problems).toEqual([]);
  });

  test('tls - the named files are read as PEM text', () => {
    const problems: string[] = [];
    expect(readTlsFiles({ ca }, problems)).toEqual({ ca: fs.readFileSync(ca, 'utf8') });
    expect(problems).toEqual([]);
  });

  test('tls - an unreadable file and a key without cert are problems that name the parameter and path, never the content', () => {
    const problems: string[] = [];
    readTlsFiles({ ca: path.join(dir, 'missing.pem'), key }, problems);
    expect(problems).toEqual([`ca: cannot read the file ${path.join(dir, 'missing.pem')} (ENOENT)`, 'cert and key go together: a client certificate needs its private key']);
    expect(problems.join(' ')).not.toContain('secret-key-material');
  });
});

describe('tls failures', () => {
  test('tls - a certificate failure, also as a cause, is a connection error that is not retryable and names the fix', () => {
    const handshake = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const wrapped = new Error('connect failed', { cause: handshake });
    const e = tlsFailure(wrapped, 'redis')!;
    expect(e).toMatchObject({ code: 'connection', retryable: false });
    expect(e.message).toBe("redis: TLS handshake failed (SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain); give the CA that signed the server's certificate (?ca=<PEM file>) or fix the host name");
    expect(e.cause).toBe(wrapped);
  });

  test('tls - other errors are not TLS failures', () => {
    expect(tlsFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'x')).toBeUndefined();
    expect(tlsFailure('text', 'x')).toBeUndefined();
  });
});
