import { EventEmitter } from 'node:events';
import type { ReplySink } from '@switchboard/core/driver';
import type { EachMessagePayload } from 'kafkajs';
import { REPLY_RESTART_DELAY_MS, ReplyReader } from '../src/replies';
import { resolveKafkaOptions } from '../src/options';
import type { KafkaClient } from '../src/session';

const EVENTS = { GROUP_JOIN: 'join', CRASH: 'crash' };

/** kafkajs consumers that join at once when run; `consumers` lists every one made. */
function fakeClient() {
  const consumers: { emitter: EventEmitter; eachMessage?: (p: EachMessagePayload) => Promise<void>; disconnected: boolean }[] = [];
  const deleted: string[] = [];
  const client = {
    options: resolveKafkaOptions(undefined, { brokers: ['127.0.0.1:9092'] }),
    topics: { ensure: async () => undefined },
    admin: {
      deleteGroups: async () => undefined,
      deleteTopics: async ({ topics }: { topics: string[] }) => void deleted.push(...topics),
    },
    consumerKafka: {
      consumer: () => {
        const emitter = new EventEmitter();
        const entry: (typeof consumers)[number] = { emitter, disconnected: false };
        consumers.push(entry);
        return {
          events: EVENTS,
          on: (name: string, f: (...a: unknown[]) => void) => {
            emitter.on(name, f);
            return () => emitter.off(name, f);
          },
          connect: async () => undefined,
          subscribe: async () => undefined,
          run: async (o: { eachMessage: (p: EachMessagePayload) => Promise<void> }) => {
            entry.eachMessage = o.eachMessage;
            setImmediate(() => emitter.emit('join', { payload: {} }));
          },
          disconnect: async () => void (entry.disconnected = true),
        };
      },
    },
  } as unknown as KafkaClient;
  return { client, consumers, deleted };
}

function sink() {
  const resolved: string[] = [];
  return { resolved, sink: { resolve: (id: string) => void resolved.push(id) } as unknown as ReplySink };
}

const reply = (correlationId: string) =>
  ({ topic: 'r', partition: 0, message: { key: null, value: Buffer.from('ok'), headers: { 'sb-correlation-id': Buffer.from(correlationId) }, offset: '0', timestamp: '0', attributes: 0 } }) as unknown as EachMessagePayload;

describe('kafka reply reader', () => {
  test('replies - a reader kafkajs gave up on (crash without restart, as after a broker restart) is started again and reads replies', async () => {
    const { client, consumers } = fakeClient();
    const s = sink();
    const reader = new ReplyReader(client, 'sb.replies.x', s.sink);
    await reader.ready();
    expect(consumers).toHaveLength(1);
    await consumers[0]!.eachMessage!(reply('a'));
    expect(s.resolved).toEqual(['a']);
    consumers[0]!.emitter.emit('crash', { payload: { error: new Error('Failed to find group coordinator'), restart: false } });
    await new Promise((r) => setTimeout(r, REPLY_RESTART_DELAY_MS + 200));
    expect(consumers[0]!.disconnected).toBe(true);
    expect(consumers).toHaveLength(2);
    await expect(reader.ready()).resolves.toBe('sb.replies.x');
    await consumers[1]!.eachMessage!(reply('b'));
    expect(s.resolved).toEqual(['a', 'b']);
    await reader.close();
  });

  test('replies - a crash kafkajs restarts from by itself starts no second reader', async () => {
    const { client, consumers } = fakeClient();
    const reader = new ReplyReader(client, 'sb.replies.y', sink().sink);
    await reader.ready();
    consumers[0]!.emitter.emit('crash', { payload: { error: new Error('Connection error'), restart: true } });
    await new Promise((r) => setTimeout(r, REPLY_RESTART_DELAY_MS + 200));
    expect(consumers).toHaveLength(1);
    await reader.close();
  });

  test('replies - closed while a restart is pending: no new reader, and the reply topic is still deleted', async () => {
    const { client, consumers, deleted } = fakeClient();
    const reader = new ReplyReader(client, 'sb.replies.z', sink().sink);
    await reader.ready();
    consumers[0]!.emitter.emit('crash', { payload: { error: new Error('No broker available'), restart: false } });
    await reader.close();
    await new Promise((r) => setTimeout(r, REPLY_RESTART_DELAY_MS + 200));
    expect(consumers).toHaveLength(1);
    expect(deleted).toEqual(['sb.replies.z']);
  });
});
