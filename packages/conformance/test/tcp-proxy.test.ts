import net from 'node:net';
import { TcpProxy } from '@switchboard/conformance';

async function echoServer(): Promise<net.Server> {
  const s = net.createServer((sock) => sock.pipe(sock));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

function roundTrip(port: number, text: string, timeoutMs = 500): Promise<string | undefined> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(text));
    const t = setTimeout(() => { c.destroy(); resolve(undefined); }, timeoutMs);
    c.once('data', (b) => { clearTimeout(t); c.destroy(); resolve(b.toString()); });
    c.once('error', () => { clearTimeout(t); resolve(undefined); });
  });
}

describe('tcp proxy', () => {
  let server: net.Server;
  let proxy: TcpProxy;
  beforeEach(async () => {
    server = await echoServer();
    proxy = new TcpProxy('127.0.0.1', (server.address() as net.AddressInfo).port);
    await proxy.start();
  });
  afterEach(async () => {
    await proxy.close();
    await new Promise((r) => server.close(r));
  });

  test('tcp proxy - forwards bytes both ways', async () => {
    expect(await roundTrip(proxy.port, 'ping')).toBe('ping');
  });

  test('tcp proxy - stall drops traffic until lifted', async () => {
    proxy.stall(true);
    expect(await roundTrip(proxy.port, 'lost', 300)).toBeUndefined();
    proxy.stall(false);
    expect(await roundTrip(proxy.port, 'back')).toBe('back');
  });

  test('tcp proxy - cut closes open connections', async () => {
    const c = net.connect(proxy.port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    await new Promise((r) => setTimeout(r, 50));
    const closed = new Promise((r) => c.once('close', r));
    c.on('error', () => undefined);
    expect(proxy.cut()).toBe(1);
    await closed;
  });
});
