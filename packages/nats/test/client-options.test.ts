import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseUrl } from '@switchboard/core';
import { resolveNatsOptions } from '../src/options';
import { natsClientOptions } from '../src/session';

describe('client options - what the adapter asks of nats.js', () => {
  it('client options - without TLS options never starts TLS: a server that only offers TLS (allow_non_tls) is used in plain text', () => {
    const parsed = parseUrl('nats://127.0.0.1:4222');
    expect(natsClientOptions(parsed, resolveNatsOptions(parsed), 10_000).tls).toBeNull();
  });

  it('client options - credentials from the URL: user and password, or a token', () => {
    const withPassword = parseUrl('nats://u:p@h:4222');
    expect(natsClientOptions(withPassword, resolveNatsOptions(withPassword), 10_000)).toMatchObject({ user: 'u', pass: 'p', servers: ['h:4222'] });
    const withToken = parseUrl('nats://tok@h');
    expect(natsClientOptions(withToken, resolveNatsOptions(withToken), 10_000)).toMatchObject({ token: 'tok' });
  });

  it('client options - tls=true requires TLS; ca, cert and key files are read as PEM and imply it; code wins; tls=false with files is a configuration error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nats-tls-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      fs.writeFileSync(ca, 'CA PEM');
      const opts = (url: string, code?: Record<string, unknown>) => {
        const parsed = parseUrl(url);
        return natsClientOptions(parsed, resolveNatsOptions(parsed, code), 10_000);
      };
      expect(opts('nats://h?tls=true').tls).toEqual({});
      expect(opts(`nats://h?ca=${ca}`).tls).toEqual({ ca: 'CA PEM' });
      expect(opts(`nats://h?ca=${ca}`, { tls: false }).tls).toBeNull();
      expect(() => opts(`nats://h?tls=false&ca=${ca}`)).toThrow(/tls=false/);
      expect(() => opts('nats://h?tls=maybe')).toThrow(/tls: "maybe"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('client options - an NKey seed file authenticates with a signed nonce; its content never reaches an error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nats-nkey-'));
    try {
      const seed = path.join(dir, 'user.nk');
      const secret = 'SUAAVK2JYMCKKVECCML4VERTFVHHGWAEV2CWGG27MUBSXD6JNAR3HKDLZM';
      fs.writeFileSync(seed, `${secret}\n`);
      const parsed = parseUrl(`nats://h?nkey=${seed}`);
      const o = natsClientOptions(parsed, resolveNatsOptions(parsed), 10_000);
      expect(typeof o.authenticator).toBe('function');
      expect(o).not.toHaveProperty('user');
      const bad = path.join(dir, 'bad.nk');
      fs.writeFileSync(bad, 'not a seed');
      expect(() => resolveNatsOptions(parseUrl(`nats://h?nkey=${bad}`))).toThrow(/does not hold an NKey user seed/);
      const both = parseUrl(`nats://u:p@h?nkey=${seed}`);
      const err = (() => {
        try {
          resolveNatsOptions(both);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err?.message).toMatch(/drop the user from the URL/);
      expect(err?.message).not.toContain(secret);
      expect(() => resolveNatsOptions(parseUrl(`nats://h?nkey=${path.join(dir, 'none')}`))).toThrow(/nkey: cannot read the file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
