import { SwitchboardError } from '@switchboard/core';
import type { Admin } from 'kafkajs';
import { deleteTopics } from '../src/session';

/** A stand-in admin whose metadata keeps listing a deleted topic for `lag` more listings. */
function lagging(topics: string[], lag: number) {
  const listed = new Set(topics);
  const deletes: string[] = [];
  let behind = lag;
  const admin = {
    async deleteTopics({ topics: ts }: { topics: string[] }) {
      deletes.push(...ts);
    },
    async listTopics() {
      if (behind > 0) behind--;
      else for (const t of deletes) listed.delete(t);
      return [...listed];
    },
  };
  return { admin: admin as unknown as Admin, listed, deletes };
}

describe('deleteTopics - resolves only once the broker no longer lists the topics', () => {
  test('delete - waits while metadata still lists a deleted topic', async () => {
    const { admin, listed } = lagging(['a', 'b'], 3);
    await deleteTopics(admin, ['a'], 5_000);
    expect([...listed]).toEqual(['b']);
  });

  test('delete - a topic that stays listed past the timeout is a timeout error naming it', async () => {
    const admin = { deleteTopics: async () => undefined, listTopics: async () => ['stuck'] } as unknown as Admin;
    const err = await deleteTopics(admin, ['stuck'], 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect((err as SwitchboardError).code).toBe('timeout');
    expect((err as SwitchboardError).message).toMatch(/stuck/);
  });

  test('delete - a topic that is still listed after a while is deleted again', async () => {
    const { admin, deletes } = lagging(['a'], 6);
    await deleteTopics(admin, ['a'], 5_000);
    expect(deletes.filter((t) => t === 'a').length).toBeGreaterThanOrEqual(2);
  });
});
