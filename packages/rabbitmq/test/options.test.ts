import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { backendByName, connect, parseUrl, SwitchboardError, toDestination } from '@switchboard/core';
import { assertRabbitName, delayQueueName, groupQueueName } from '../src/names';
import { DEFAULT_MAX_MESSAGE_BYTES, resolveRabbitOptions } from '../src/options';
import { connectRabbitMQ, driver, rabbitCapabilities } from '../src/index';

describe('options - URL and adapter options', () => {
  it('parses host, port, credentials and vhost', () => {
    const { endpoints, options } = resolveRabbitOptions(parseUrl('amqp://u:p%40ss@rabbit:5673/my%2Fvhost'));
    expect(endpoints).toEqual([{ protocol: 'amqp', hostname: 'rabbit', port: 5673, username: 'u', password: 'p@ss', vhost: 'my/vhost' }]);
    expect(options.connectTimeoutMs).toBe(10_000);
    expect(options.maxMessageBytes).toBe(DEFAULT_MAX_MESSAGE_BYTES);
  });

  it('defaults port, vhost and guest credentials', () => {
    const { endpoints } = resolveRabbitOptions(parseUrl('amqps://broker'));
    expect(endpoints[0]).toMatchObject({ protocol: 'amqps', port: 5671, vhost: '/', username: 'guest' });
  });

  it('reads options from the query string; code options win', () => {
    const { options } = resolveRabbitOptions(parseUrl('amqp://h?heartbeat=5&maxMessageBytes=1000&reconnect=false'), { heartbeat: 7 });
    expect(options).toMatchObject({ heartbeat: 7, maxMessageBytes: 1000, reconnect: false });
  });

  it('options - ca, cert and key in an amqps:// URL are PEM files for TLS; code tls wins; on amqp:// they are a configuration error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-rabbit-tls-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      fs.writeFileSync(ca, 'CA PEM');
      expect(resolveRabbitOptions(parseUrl(`amqps://u:p@h?ca=${ca}`)).options.tls).toEqual({ ca: 'CA PEM' });
      expect(resolveRabbitOptions(parseUrl(`amqps://h?ca=${ca}`), { tls: { servername: 'x' } }).options.tls).toEqual({ servername: 'x' });
      expect(resolveRabbitOptions(parseUrl('amqps://h')).options.tls).toBeUndefined();
      expect(() => resolveRabbitOptions(parseUrl(`amqp://h?ca=${ca}`))).toThrow(/plain TCP/);
      expect(() => resolveRabbitOptions(parseUrl(`amqps://h?key=${ca}`))).toThrow(/cert and key go together/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists every problem at once and never shows the password', () => {
    let err: unknown;
    try {
      resolveRabbitOptions(parseUrl('amqp://u:secretpw@h?heartbeat=abc&bogus=1'), { connectTimeoutMs: -1 });
    } catch (e) {
      err = e;
    }
    expect(SwitchboardError.is(err, 'configuration')).toBe(true);
    const problems = (err as SwitchboardError).details.problems as string[];
    expect(problems.length).toBeGreaterThanOrEqual(3);
    expect((err as Error).message).not.toContain('secretpw');
  });

  it('exposes a driver for amqp and amqps with the registry entry of core', () => {
    expect(driver.schemes).toEqual(['amqp', 'amqps']);
    expect(driver.info).toEqual(backendByName('rabbitmq'));
    expect(rabbitCapabilities.confirm.level).toBe('native');
  });

  it('registers itself on import: connect() finds it and rejects bad options before any network effect', async () => {
    await expect(connect('amqp://127.0.0.1:1?heartbeat=abc', { drivers: [] })).rejects.toMatchObject({ code: 'configuration' });
  });
});

describe('names - destination rules and derived names', () => {
  it('accepts ordinary names and rejects invalid ones before any network effect', () => {
    expect(() => assertRabbitName(toDestination('orders.eu-1'))).not.toThrow();
    for (const bad of ['has space', 'amq.reserved', 'x'.repeat(201), 'semi;colon', 'at@sign']) {
      expect(() => assertRabbitName(toDestination(bad))).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });

  it('derives group, and short delay-queue names', () => {
    expect(groupQueueName('t', 'g1')).toBe('t@g1');
    expect(groupQueueName('t', 'weird group!')).toMatch(/^t@h-[0-9a-f]{40}$/);
    expect(delayQueueName({ exchange: '', routingKey: 'q' }, 500)).toBe('sb.delay.500.q.q');
    expect(Buffer.byteLength(delayQueueName({ exchange: '', routingKey: 'x'.repeat(250) }, 500))).toBeLessThanOrEqual(255);
  });
});

describe('connect - deadlines without a broker', () => {
  it('a silent server fails with connection within connectTimeoutMs, from the URL or from the options', async () => {
    const server = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      for (const [url, options] of [[`amqp://127.0.0.1:${port}?connectTimeoutMs=300`, {}], [`amqp://127.0.0.1:${port}`, { connectTimeoutMs: 300 }]] as const) {
        const started = Date.now();
        await expect(connectRabbitMQ(url, options)).rejects.toMatchObject({ code: 'connection' });
        expect(Date.now() - started).toBeLessThan(2000);
      }
    } finally {
      server.close();
    }
  });
});
