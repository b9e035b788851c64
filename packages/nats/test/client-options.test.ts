import { parseUrl } from '@switchboard/core';
import { resolveNatsOptions } from '../src/options';
import { natsClientOptions } from '../src/session';

describe('client options - what the adapter asks of nats.js', () => {
  it('client options - never starts TLS: a server that only offers TLS (allow_non_tls) is used in plain text', () => {
    const parsed = parseUrl('nats://127.0.0.1:4222');
    expect(natsClientOptions(parsed, resolveNatsOptions(parsed), 10_000).tls).toBeNull();
  });

  it('client options - credentials from the URL: user and password, or a token', () => {
    const withPassword = parseUrl('nats://u:p@h:4222');
    expect(natsClientOptions(withPassword, resolveNatsOptions(withPassword), 10_000)).toMatchObject({ user: 'u', pass: 'p', servers: ['h:4222'] });
    const withToken = parseUrl('nats://tok@h');
    expect(natsClientOptions(withToken, resolveNatsOptions(withToken), 10_000)).toMatchObject({ token: 'tok' });
  });
});
