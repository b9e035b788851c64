import { formatMiB, formatMs, formatRate, formatRatio, makeBodies, makeBody, median, percentile, percentileSorted, ratio, ratios, readBody, summarize, type RunMeasurement } from '@switchboard/bench';

function run(over: Partial<RunMeasurement>): RunMeasurement {
  const memory = { rssStart: 100, rssPeak: 200, rssDelta: 100, heapStart: 10, heapPeak: 30, heapDelta: 20, samples: 3 };
  return { messages: 10, setupMs: 1, publishMs: 5, wallMs: 10, publishRate: 2000, endToEndRate: 1000, p50Ms: 1, p99Ms: 2, duplicates: 0, memory, heapAfterGcDelta: 5, cpuMicrosPerMessage: 10, heapCheckpoints: [], ...over };
}

describe('stats', () => {
  test('stats - median of odd, even, empty and unsorted lists, ignoring non-finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeUndefined();
    expect(median([NaN, 5, Infinity, 1])).toBe(3);
  });

  test('stats - a ratio with a negative side or a zero denominator is n/a (a heap that shrank), not a negative ratio', () => {
    expect(ratio(-2.2, 0.3)).toBeUndefined();
    expect(ratio(2, -1)).toBeUndefined();
    expect(ratio(2, 0)).toBeUndefined();
    expect(ratio(0, 2)).toBe(0);
    expect(formatRatio(ratio(-2.2, 0.3))).toBe('n/a');
  });

  test('stats - percentiles use the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentileSorted(Float64Array.of(1, 2, 3), 1)).toBe(1);
    expect(percentile([], 50)).toBeUndefined();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  test('stats - a ratio against nothing is undefined, never Infinity or NaN', () => {
    expect(ratio(3, 4)).toBe(0.75);
    expect(ratio(3, undefined)).toBeUndefined();
    expect(ratio(undefined, 4)).toBeUndefined();
    expect(ratio(3, 0)).toBeUndefined();
    expect(ratio(3, -1)).toBeUndefined();
    expect(ratio(NaN, 1)).toBeUndefined();
  });

  test('stats - ratio, rate, millisecond and MiB formatting', () => {
    expect(formatRatio(0.8734)).toBe('0.87x');
    expect(formatRatio(1)).toBe('1.00x');
    expect(formatRatio(12.34)).toBe('12.3x');
    expect(formatRatio(undefined)).toBe('n/a');
    expect(formatRate(123_456)).toBe('123,000');
    expect(formatRate(9_876.5)).toBe('9,880');
    expect(formatRate(42.26)).toBe('42.3');
    expect(formatRate(undefined)).toBe('n/a');
    expect(formatMs(0.4234)).toBe('0.42');
    expect(formatMs(12.345)).toBe('12.3');
    expect(formatMs(1234.5)).toBe('1,235');
    expect(formatMs(undefined)).toBe('n/a');
    expect(formatMiB(3 * 1024 * 1024)).toBe('3.0');
    expect(formatMiB(-1024 * 1024)).toBe('-1.0');
  });

  test('stats - summaries take the median of each metric and ratios divide Switchboard by raw', () => {
    const raw = summarize([run({ publishRate: 1000 }), run({ publishRate: 3000 }), run({ publishRate: 2000 })])!;
    const sb = summarize([run({ publishRate: 500, endToEndRate: 800 }), run({ publishRate: 1500, endToEndRate: 400 })])!;
    expect(raw.publishRate).toBe(2000);
    expect(raw.runs).toBe(3);
    expect(sb.publishRate).toBe(1000);
    expect(sb.endToEndRate).toBe(600);
    const r = ratios(sb, raw);
    expect(r.publishRate).toBe(0.5);
    expect(r.endToEndRate).toBe(0.6);
    expect(r.heapDelta).toBe(1);
    expect(ratios(sb, undefined).publishRate).toBeUndefined();
    expect(summarize([])).toBeUndefined();
  });

  test('workload - a body carries its sequence number and send time at the requested size', () => {
    const body = makeBody(12345, 64, 987.654321);
    expect(body.byteLength).toBe(64);
    expect(readBody(body)).toEqual({ seq: 12345, sentAt: 987.654 });
    expect(readBody(new Uint8Array(Buffer.from('not a bench body')))).toBeUndefined();
    expect(readBody(Buffer.from('12:34'))).toBeUndefined();
    expect(readBody(Buffer.from(':1.5;'))).toBeUndefined();
    expect(readBody(Buffer.from('7:;'))).toBeUndefined();
  });

  test('workload - a batch of bodies is byte for byte the bodies made one by one, and reads back the send time Number() reads from the text', () => {
    for (const sentAt of [0, 0.0004, 1.5, 987.654321, 123456.789, 2 ** 31 + 0.1239]) {
      const batch = makeBodies(998, 3, 48, sentAt);
      expect(batch.map((b) => b.toString('latin1'))).toEqual([998, 999, 1000].map((seq) => makeBody(seq, 48, sentAt).toString('latin1')));
      expect(batch.map((b) => readBody(b))).toEqual([998, 999, 1000].map((seq) => ({ seq, sentAt: Number(sentAt.toFixed(3)) })));
    }
    expect(batch1()).toBe('5:2.000;xxxxxxx');
    function batch1() {
      return makeBodies(5, 1, 15, 2)[0]!.toString('latin1');
    }
  });
});
