import { connect, type Connection, type Producer } from '@switchboard/core';
import '@switchboard/memory';
import { switchboardTarget, WORKLOAD_DEFAULTS } from '@switchboard/bench';

describe('switchboard target', () => {
  test('switchboard target - with keys, the messages of a batch carry the keys in turn, and all arrive', async () => {
    const sent: unknown[] = [];
    // The connection as the target sees it, with its producer's send recorded.
    const recording = async (u: string): Promise<Connection> => {
      const conn = await connect(u);
      const producer = (): Producer => {
        const p = conn.producer();
        return Object.assign(Object.create(p) as Producer, {
          send: (dest: Parameters<Producer['send']>[0], m: unknown, o?: Parameters<Producer['send']>[2]) => {
            sent.push(m);
            return p.send(dest, m as never, o);
          },
        });
      };
      return Object.assign(Object.create(conn) as Connection, { producer });
    };
    let acked = 0;
    const target = switchboardTarget(recording, { keys: 3 })('memory://bench-keyed-target', { messages: 4, size: 32, ...WORKLOAD_DEFAULTS });
    await target.setup('keyed', { onAcked: () => void acked++, onError: (e) => { throw e; } });
    await target.publish([Buffer.alloc(32), Buffer.alloc(32)]);
    await target.publish([Buffer.alloc(32), Buffer.alloc(32)]);
    for (let i = 0; i < 100 && acked < 4; i++) await new Promise((r) => setTimeout(r, 10));
    await target.teardown();
    expect((sent as { key: string }[][]).map((batch) => batch.map((m) => m.key))).toEqual([['k0', 'k1'], ['k2', 'k0']]);
    expect(acked).toBe(4);
  });
});
