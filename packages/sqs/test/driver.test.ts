import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { backendForScheme, connect, SwitchboardError } from '@switchboard/core';
import { connectSqs, driver } from '@switchboard/sqs';

/** A stand-in endpoint that answers every call with an empty JSON body and records the call names. */
async function fakeEndpoint(): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    calls.push(String(req.headers['x-amz-target'] ?? req.url));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `sqs+http://127.0.0.1:${port}?region=us-east-1`, calls, close: () => new Promise((r) => server.close(() => r())) };
}

describe('driver - registration', () => {
  it('registers itself on import with the registry data of the sqs backend', () => {
    expect(driver.name).toBe('sqs');
    expect(driver.schemes).toEqual(['sqs', 'sqs+http', 'sqs+https']);
    expect(backendForScheme('sqs+http')).toMatchObject({ name: 'sqs', package: '@switchboard/sqs', defaultPort: 443, schemePorts: { 'sqs+http': 80 } });
  });

  it('an unreachable endpoint is a connection error within the connect timeout', async () => {
    const started = Date.now();
    const err = await connect('sqs+http://127.0.0.1:1?region=us-east-1', { connectTimeoutMs: 2000, sqs: { sdkMaxAttempts: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('connection');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('driver - send limits are checked before anything is sent', () => {
  let endpoint: Awaited<ReturnType<typeof fakeEndpoint>>;
  beforeAll(async () => {
    endpoint = await fakeEndpoint();
  });
  afterAll(() => endpoint.close());

  it('rejects a 10th header, a delay over 900 s and an oversized encoded message without a call', async () => {
    const conn = await connectSqs(endpoint.url);
    try {
      expect(conn.limits).toEqual({ maxMessageBytes: 262_144, maxHeaders: 9, maxDelayMs: 900_000 });
      const before = endpoint.calls.length;
      const p = conn.producer();
      const headers = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h${i}`, 'v']));
      await expect(p.send('q', { body: 'x', headers })).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(p.send('topic:t', 'x', { delayMs: 901_000 })).rejects.toMatchObject({ code: 'invalid_argument' });
      // Binary bodies travel as base64: 200 KiB of bytes are over 256 KiB once encoded.
      await expect(p.send('q', new Uint8Array(200 * 1024).fill(0xff))).rejects.toMatchObject({ code: 'payload_too_large' });
      await expect(p.send('bad name!', 'x')).rejects.toMatchObject({ code: 'invalid_argument' });
      expect(endpoint.calls.length).toBe(before);
    } finally {
      await conn.close();
    }
  });

  it('dead-letter headers do not count against the nine application headers', async () => {
    const conn = await connectSqs(endpoint.url);
    try {
      const headers = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, 'v']));
      const err = await conn
        .producer()
        .send('q', { body: 'x', headers: { ...headers, 'sb-dead-letter-reason': 'r' } })
        .catch((e: unknown) => e);
      // The fake endpoint answers without a MessageId: whatever happens, it is not the header limit.
      expect((err as SwitchboardError | undefined)?.code).not.toBe('invalid_argument');
    } finally {
      await conn.close();
    }
  });
});
