import net from 'node:net';
import { createRequire } from 'node:module';
import { logLevel } from 'kafkajs';
import { ConnectionWatch, kafkaLogCreator, patchKafkaRequestQueue } from '../src/diagnostics';

function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; message?: string }[] = [];
  const at = (level: string) => (fields: object, message?: string) => void lines.push({ level, fields: fields as Record<string, unknown>, ...(message !== undefined ? { message } : {}) });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('kafka diagnostics', () => {
  test('log creator - kafkajs levels go to the logger at the matching level, with namespace and fields', () => {
    const { lines, logger } = recordingLogger();
    const log = kafkaLogCreator(logger)(logLevel.DEBUG);
    const entry = (message: string) => ({ message, timestamp: 't', logger: 'kafkajs', broker: '127.0.0.1:9092' });
    log({ namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: entry('e') });
    log({ namespace: 'Consumer', level: logLevel.WARN, label: 'WARN', log: entry('w') });
    log({ namespace: 'Consumer', level: logLevel.INFO, label: 'INFO', log: entry('i') });
    log({ namespace: 'RequestQueue', level: logLevel.DEBUG, label: 'DEBUG', log: entry('d') });
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['error', 'e'],
      ['warn', 'w'],
      ['info', 'i'],
      ['debug', 'd'],
    ]);
    expect(lines[0]!.fields).toEqual({ backend: 'kafka', namespace: 'Connection', broker: '127.0.0.1:9092' });
  });

  test('log creator - a logger that throws does not break kafkajs', () => {
    const bad = { debug: () => { throw new Error('x'); }, info: () => { throw new Error('x'); }, warn: () => { throw new Error('x'); }, error: () => { throw new Error('x'); } };
    expect(() => kafkaLogCreator(bad)(logLevel.INFO)({ namespace: 'n', level: logLevel.ERROR, label: 'ERROR', log: { message: 'm', timestamp: 't', logger: 'kafkajs' } })).not.toThrow();
  });

  test('request queue - an idle kafkajs request queue sets no negative timeout (no TimeoutNegativeWarning)', async () => {
    patchKafkaRequestQueue();
    const load = createRequire(require.resolve('kafkajs'));
    const RequestQueue = load('./src/network/requestQueue/index.js');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    const noop = () => undefined;
    const q = new RequestQueue({
      instrumentationEmitter: { emit: noop },
      maxInFlightRequests: null,
      requestTimeout: 1000,
      enforceRequestTimeout: false,
      clientId: 'test',
      broker: 'b',
      logger: { debug: noop, info: noop, warn: noop, error: noop },
      isConnected: () => true,
    });
    try {
      // What kafkajs does after every response: check the pending requests, then schedule the next check.
      q.checkPendingRequests();
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings.filter((w) => w.name === 'TimeoutNegativeWarning')).toEqual([]);
      expect(q.throttleCheckTimeoutId).toBeNull(); // no idle 1 ms loop either
    } finally {
      q.destroy();
      process.off('warning', onWarning);
    }
  });

  test('connection watch - a refused connection is reported lost once (warn), the next connect regained (info)', async () => {
    const events: { event: { origin: string; state?: string; error?: unknown }; level?: string }[] = [];
    const watch = new ConnectionWatch({ report: (event, _m, level) => void events.push({ event, ...(level ? { level } : {}) }) }, 'kafka://test');
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const factory = watch.socketFactory();
    const open = (p: number) =>
      new Promise<void>((resolve) => {
        const s = factory({ host: '127.0.0.1', port: p, ssl: false, onConnect: () => (s.destroy(), resolve()) } as never);
        s.on('error', () => resolve());
      });
    try {
      await open(deadPort);
      await open(deadPort);
      await open(port);
      await open(port);
      expect(events.map((e) => [e.event.origin, e.event.state, e.level])).toEqual([
        ['reconnect', 'lost', 'warn'],
        ['reconnect', 'regained', 'info'],
      ]);
      // The loss carries a typed error, as on every other backend (not the raw socket error).
      expect(events[0]!.event.error).toMatchObject({ name: 'SwitchboardError', code: 'connection', retryable: true });
    } finally {
      server.close();
    }
  });

  test('connection watch - a socket the broker ends is a loss only when the broker then refuses connections', async () => {
    const events: string[] = [];
    const watch = new ConnectionWatch({ report: (event) => void events.push(String(event.state)) }, 'kafka://test');
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const factory = watch.socketFactory();
    const connected = () =>
      new Promise<net.Socket>((resolve) => {
        const s: net.Socket = factory({ host: '127.0.0.1', port, ssl: false, onConnect: () => resolve(s) } as never);
        s.on('error', () => undefined);
      });
    // An idle close: the broker ends the socket but still accepts connections.
    const idle = await connected();
    await new Promise((r) => setTimeout(r, 100));
    sockets.shift()!.end();
    await new Promise((r) => setTimeout(r, 1500));
    expect(events).toEqual([]);
    idle.destroy();
    // A broker that stops: it ends the socket and no longer listens.
    await connected();
    await new Promise((r) => setTimeout(r, 100));
    await new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sockets) s.end();
    });
    for (let i = 0; i < 40 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(events).toEqual(['lost']);
    watch.close();
  });
});
