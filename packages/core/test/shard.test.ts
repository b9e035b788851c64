import { fnv1a32, shardOf } from '../src/shard';

describe('shard', () => {
  test('shard - fnv1a32 matches the published FNV-1a 32-bit test vectors', () => {
    const enc = new TextEncoder();
    expect(fnv1a32(enc.encode(''))).toBe(0x811c9dc5);
    expect(fnv1a32(enc.encode('a'))).toBe(0xe40c292c);
    expect(fnv1a32(enc.encode('foobar'))).toBe(0xbf9cf968);
  });

  test('shard - one key always maps to one shard in range, and keys spread over the shards', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) {
      const s = shardOf(`customer-${i}`, 8);
      expect(s).toBe(shardOf(`customer-${i}`, 8));
      expect(Number.isInteger(s) && s >= 0 && s < 8).toBe(true);
      counts[s]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(700);
    expect(shardOf('ü-key', 1)).toBe(0);
  });
});
