// Against the real broker (SWITCHBOARD_TEST_RABBITMQ_URL; skipped without it), through a TCP proxy
// this test cuts: a lost and a regained connection reach the app's logger and onError, amqplib's own
// events go to the logger, and nothing is printed.
import net from 'node:net';
import { connect, type ErrorEvent, type Logger } from '@switchboard/core';
import { driver } from '@switchboard/rabbitmq';

const url = process.env.SWITCHBOARD_TEST_RABBITMQ_URL;

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

/** Forwards local connections to the broker; `cut()` destroys every open one (the broker stays up). */
async function proxyTo(target: URL): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5672), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const u = new URL(target.toString());
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return {
    url: u.toString(),
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function until(ok: () => boolean, ms: number, what: string): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); ) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

(url ? describe : describe.skip)('rabbitmq - diagnostics against a broker', () => {
  test('diagnostics - a lost connection is reported as warn and its return as info (origin reconnect), amqplib events go to the logger, nothing is printed', async () => {
    const proxy = await proxyTo(new URL(url!));
    const logger = recordingLogger();
    const events: ErrorEvent[] = [];
    const printed: string[] = [];
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (printed.push(String(chunk)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (printed.push(String(chunk)), true));
    const conn = await connect(proxy.url, { drivers: [driver], logger, onError: (e) => events.push(e), rabbitmq: { reconnectDelayMs: 50 } });
    try {
      await conn.admin.ensureDestination('queue:sbt.diagnostics');
      proxy.cut();
      await until(() => events.length >= 2, 15_000, 'the lost and the regained connection reported');
      const reconnects = logger.lines.filter((l) => l.fields.origin === 'reconnect');
      expect(reconnects.map((l) => l.level)).toEqual(['warn', 'info']);
      expect(reconnects[0]!.message).toMatch(/lost .*reconnecting/);
      expect(reconnects[1]!.message).toMatch(/is back after \d+ ms/);
      expect(events.map((e) => [e.origin, e.state])).toEqual([['reconnect', 'lost'], ['reconnect', 'regained']]);
      expect((events[0]!.error as { code?: string }).code).toBe('connection');
      // amqplib's own report of the broken socket, at debug; the password never appears.
      expect(logger.lines.some((l) => l.level === 'debug' && /amqplib/.test(l.message ?? ''))).toBe(true);
      expect(JSON.stringify(logger.lines)).not.toContain(':guest@');
      // And the connection works again.
      await conn.producer().send('queue:sbt.diagnostics', { body: 'after' });
    } finally {
      await conn.admin.deleteDestination('queue:sbt.diagnostics').catch(() => undefined);
      await conn.close();
      await proxy.close();
      out.mockRestore();
      err.mockRestore();
    }
    expect(printed).toEqual([]);
  });
});
