// Against a live endpoint (SWITCHBOARD_TEST_SQS_URL; skipped without it), through a TCP proxy this
// test stops and starts again (issue 15 item 2): an endpoint that stops answering is reported as a
// lost connection (warn), its return as regained (info), both with origin reconnect; the AWS SDK's
// own logs go to the application's logger at debug; nothing is printed.
import net from 'node:net';
import { connect, type ErrorEvent, type Logger } from '@switchboard/core';
import { driver } from '@switchboard/sqs';

const url = process.env.SWITCHBOARD_TEST_SQS_URL;

interface Line {
  level: keyof Logger;
  fields: Record<string, unknown>;
  message: string | undefined;
}

/** A logger that keeps every line. */
function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: keyof Logger) => (fields: object, message?: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Forwards a local port to the endpoint; `stop()` closes the port and every connection, `start()` listens again on the same port. */
async function proxyTo(host: string, port: number): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let listenPort = 0;
  const start = async () => {
    server = net.createServer((client) => {
      const upstream = net.connect(port, host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(listenPort, '127.0.0.1', resolve));
    listenPort = (server.address() as net.AddressInfo).port;
  };
  const stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  await start();
  return { port: listenPort, start, stop, close: stop };
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); ) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

(url ? describe : describe.skip)('sqs - diagnostics against a live endpoint', () => {
  test('diagnostics - an endpoint that stops answering is reported lost (warn) and back (info), origin reconnect; SDK logs at debug; nothing printed', async () => {
    const target = new URL(url!.replace(/^sqs\+/, ''));
    if (!target.port) return; // AWS itself: nothing to proxy
    const proxy = await proxyTo(target.hostname, Number(target.port));
    const logger = recordingLogger();
    const events: ErrorEvent[] = [];
    const printed: string[] = [];
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (printed.push(String(chunk)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (printed.push(String(chunk)), true));
    const q = `diag-${Date.now().toString(36)}`;
    const conn = await connect(`sqs+http://127.0.0.1:${proxy.port}?region=${target.searchParams.get('region') ?? 'us-east-1'}&sdkMaxAttempts=1`, {
      drivers: [driver],
      logger,
      onError: (e) => events.push(e),
    });
    try {
      const c = await conn.consumer(q);
      const got: string[] = [];
      const h = c.consume((d) => void got.push(d.text()));
      await new Promise((r) => setTimeout(r, 500));
      expect(events).toEqual([]);
      await proxy.stop();
      await until(() => events.length >= 1, 15_000, 'the lost endpoint reported');
      await proxy.start();
      await until(() => events.length >= 2, 15_000, 'the endpoint back reported');
      const reconnects = logger.lines.filter((l) => l.fields.origin === 'reconnect');
      expect(reconnects.map((l) => l.level)).toEqual(['warn', 'info']);
      expect(reconnects[0]!.message).toMatch(/unreachable/);
      expect(reconnects[1]!.message).toMatch(/answers again after \d+ ms/);
      expect(events.map((e) => [e.origin, e.state])).toEqual([
        ['reconnect', 'lost'],
        ['reconnect', 'regained'],
      ]);
      expect((events[0]!.error as { code?: string }).code).toBe('connection');
      // The SDK's per-call log, at debug.
      expect(logger.lines.some((l) => l.level === 'debug' && l.fields.source === 'aws-sdk')).toBe(true);
      expect(logger.lines.some((l) => l.level === 'info' && l.fields.source === 'aws-sdk')).toBe(false);
      // And the consumer works again.
      await conn.producer().send(q, 'after');
      await until(() => got.includes('after'), 15_000, 'a message after the endpoint came back');
      await h.close();
    } finally {
      await conn.admin.deleteDestination(q).catch(() => undefined);
      await conn.close();
      await proxy.close();
      out.mockRestore();
      err.mockRestore();
    }
    expect(printed).toEqual([]);
  });
});
