import { parseUrl, SwitchboardError, type ErrorEvent } from '@switchboard/core';
import { createReply, defineDriver, type ReplySink } from '@switchboard/core/driver';
import { fakeSession } from './fake-session';

function recorder() {
  const lines: { level: string; fields: Record<string, unknown>; message?: string }[] = [];
  const at = (level: string) => (fields: object, message?: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

async function open(options: Record<string, unknown>, hostSeen?: (h: { replies: ReplySink }) => void) {
  const fake = fakeSession({});
  const driver = defineDriver({
    name: 'fake',
    displayName: 'fake',
    package: 'fake',
    schemes: ['fake-diag'],
    open: async (_u, o, host) => {
      hostSeen?.(host);
      expect(o).not.toHaveProperty('logger');
      expect(o).not.toHaveProperty('onError');
      return fake.bind(host);
    },
  });
  const conn = await driver.connect(parseUrl('fake-diag://x'), options);
  return { conn, fake };
}

describe('diagnostics', () => {
  test("diagnostics - a handler's exception reaches onError and the logger, and the delivery is nacked", async () => {
    const events: ErrorEvent[] = [];
    const { lines, logger } = recorder();
    const { conn, fake } = await open({ logger, onError: (e: ErrorEvent) => void events.push(e) });
    const c = await conn.consumer('queue:orders', { group: 'g' });
    const boom = new Error('downstream is down');
    const h = c.consume(() => {
      throw boom;
    });
    fake.consumers[0]!.push('m1', { attempt: 2 });
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual([{ origin: 'handler', error: boom, destination: 'queue:orders', group: 'g', messageId: 'm1', attempt: 2 }]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ origin: 'handler', err: 'downstream is down', messageId: 'm1' }) }));
    expect(fake.consumers[0]!.calls[0]!.slice(0, 2)).toEqual(['retry', 'm1']);
    await h.close();
    await conn.close();
  });

  test('diagnostics - a consume loop whose subscription fails is reported, not an unhandled rejection', async () => {
    const events: ErrorEvent[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const fake = fakeSession({});
      let sinkFail: ((e: unknown) => void) | undefined;
      const driver = defineDriver({
        name: 'fake',
        displayName: 'fake',
        package: 'fake',
        schemes: ['fake-diag-fail'],
        open: async (_u, _o, host) => {
          const session = fake.bind(host);
          return {
            ...session,
            consumer: async (s, o) => {
              const d = await session.consumer(s, o);
              return { ...d, start: (sink) => { sinkFail = (e) => sink.fail(e); d.start(sink); } };
            },
          };
        },
      });
      const conn = await driver.connect(parseUrl('fake-diag-fail://x'), { onError: (e: ErrorEvent) => void events.push(e) });
      const c = await conn.consumer('queue:q');
      c.consume(() => undefined); // `done` never awaited
      sinkFail!(new SwitchboardError('not_found', 'queue q was deleted'));
      await new Promise((r) => setTimeout(r, 50));
      expect(events).toEqual([expect.objectContaining({ origin: 'consumer', destination: 'queue:q', error: expect.objectContaining({ code: 'not_found' }) })]);
      expect(unhandled).toEqual([]);
      await conn.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('diagnostics - a reply nobody waits for is reported and dropped', async () => {
    const events: ErrorEvent[] = [];
    let replies: ReplySink | undefined;
    const { conn } = await open({ onError: (e: ErrorEvent) => void events.push(e) }, (h) => (replies = h.replies));
    expect(replies!.resolve('late-1', createReply(new Uint8Array(), {}, 'late-1'))).toBe(false);
    expect(events).toEqual([expect.objectContaining({ origin: 'reply', error: expect.objectContaining({ code: 'not_found' }) })]);
    await conn.close();
  });

  test('diagnostics - silent by default; a throwing hook or logger changes nothing', async () => {
    const { conn, fake } = await open({
      logger: { debug: () => undefined, info: () => undefined, warn: () => { throw new Error('bad logger'); }, error: () => undefined },
      onError: () => { throw new Error('bad hook'); },
    });
    const c = await conn.consumer('queue:q');
    const h = c.consume(() => { throw new Error('fails'); });
    fake.consumers[0]!.push('m1');
    for (let i = 0; i < 100 && fake.consumers[0]!.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fake.consumers[0]!.calls[0]!.slice(0, 2)).toEqual(['retry', 'm1']);
    await h.close();
    await conn.close();
  });

  test('diagnostics - a logger without the four methods or an onError that is not a function is a configuration error', async () => {
    await expect(open({ logger: { info: () => undefined }, onError: 'yes' })).rejects.toMatchObject({
      code: 'configuration',
      details: { problems: expect.arrayContaining([expect.stringContaining('logger.debug'), expect.stringContaining('onError')]) },
    });
  });
});

describe('diagnostics - settles', () => {
  test('diagnostics - a failed ack after a handler that succeeded is reported as background, not as a handler failure', async () => {
    const events: ErrorEvent[] = [];
    const fake = fakeSession({});
    const driver = defineDriver({
      name: 'fake',
      displayName: 'fake',
      package: 'fake',
      schemes: ['fake-diag-ack'],
      open: async (_u, _o, host) => {
        const session = fake.bind(host);
        return {
          ...session,
          consumer: async (s, o) => ({ ...(await session.consumer(s, o)), ack: async () => Promise.reject(new SwitchboardError('connection', 'server restarting')) }),
        };
      },
    });
    const conn = await driver.connect(parseUrl('fake-diag-ack://x'), { onError: (e: ErrorEvent) => void events.push(e) });
    const c = await conn.consumer('queue:q');
    const h = c.consume(() => undefined);
    fake.consumers[0]!.push('m1');
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual([expect.objectContaining({ origin: 'background', messageId: 'm1', error: expect.objectContaining({ code: 'connection' }) })]);
    await h.close({ timeoutMs: 0 });
    await conn.close({ timeoutMs: 0 });
  });
});
