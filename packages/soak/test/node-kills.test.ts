import { rotatingNodeKills } from '../src/index';

describe('node kills', () => {
  test('node kills - each call kills the next node and starts it again; an abort during the down time still starts it', async () => {
    const ran: string[] = [];
    const control = { nodes: ['1', '2'], kill: async (n: string) => void ran.push(`kill ${n}`), start: async (n: string) => void ran.push(`start ${n}`) };
    const ac = new AbortController();
    const disrupt = rotatingNodeKills(control, 60_000, ac.signal);
    const first = disrupt();
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await first;
    expect(ran).toEqual(['kill 1', 'start 1']);
    await rotatingNodeKills(control, 1)();
    expect(ran).toEqual(['kill 1', 'start 1', 'kill 1', 'start 1']);
  });
});
