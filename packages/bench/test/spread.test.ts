import { checkpointLines, formatKiB, formatSpread, implFactory, implsFor, ratioRows, spread, summarize, type BenchReport, type ImplResult, type RunMeasurement } from '@switchboard/bench';

function run(over: Partial<RunMeasurement>): RunMeasurement {
  const memory = { rssStart: 100, rssPeak: 200, rssDelta: 100, heapStart: 10, heapPeak: 30, heapDelta: 20, samples: 3 };
  return {
    messages: 10,
    setupMs: 1,
    publishMs: 5,
    wallMs: 10,
    publishRate: 2000,
    endToEndRate: 1000,
    p50Ms: 1,
    p99Ms: 2,
    duplicates: 0,
    memory,
    heapAfterGcDelta: 5,
    cpuMicrosPerMessage: 10,
    heapCheckpoints: [],
    ...over,
  };
}

function impl(id: ImplResult['id'], kind: ImplResult['kind'], runs: RunMeasurement[], equalGuarantee = false): ImplResult {
  return { id, kind, client: id, guarantee: '', equalGuarantee, summary: summarize(runs), runs };
}

describe('spread', () => {
  test('spread - median with min and max, ignoring non-finite values', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spread([4, NaN, 1])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(spread([7])).toEqual({ median: 7, min: 7, max: 7 });
    expect(spread([])).toBeUndefined();
    expect(spread([NaN, Infinity])).toBeUndefined();
  });

  test('spread - formatted as min-max, once when both ends look the same', () => {
    const f = (n: number) => n.toFixed(0);
    expect(formatSpread({ median: 2, min: 1, max: 3 }, f)).toBe('1-3');
    expect(formatSpread({ median: 2, min: 2.1, max: 2.2 }, f)).toBe('2');
    expect(formatSpread(undefined, f)).toBe('n/a');
    expect(formatKiB(6963)).toBe('6.8');
    expect(formatKiB(undefined)).toBe('n/a');
  });

  test('spread - summaries carry the median and the range of each shown metric', () => {
    const s = summarize([run({ endToEndRate: 900, p99Ms: 5 }), run({ endToEndRate: 1200, p99Ms: 3 }), run({ endToEndRate: 1000, p99Ms: 9, heapAfterGcDelta: NaN })])!;
    expect(s.endToEndRate).toBe(1000);
    expect(s.spread.endToEndRate).toEqual({ median: 1000, min: 900, max: 1200 });
    expect(s.spread.p99Ms).toEqual({ median: 5, min: 3, max: 9 });
    expect(s.heapAfterGcDelta).toBe(5);
    expect(s.spread.heapAfterGcDelta).toEqual({ median: 5, min: 5, max: 5 });
  });
});

describe('implementations', () => {
  test('implementations - each backend lists its equal-guarantee raw baseline, the other raw ones and both Switchboard modes', () => {
    const ids = (url: string) => implsFor(url).map((s) => s.id);
    expect(ids('kafka://127.0.0.1:9092')).toEqual(['raw', 'raw-batch', 'raw-ids', 'switchboard', 'switchboard-amo']);
    expect(ids('nats://127.0.0.1:4222')).toEqual(['raw', 'raw-ack', 'switchboard', 'switchboard-ack', 'switchboard-amo', 'switchboard-ordered']);
    expect(ids('amqp://127.0.0.1')).toEqual(['raw', 'raw-ids', 'switchboard', 'switchboard-amo', 'switchboard-ordered']);
    expect(ids('sqs+http://127.0.0.1:4566')).toEqual(['raw', 'switchboard', 'switchboard-amo']);
    expect(ids('redis://127.0.0.1:6379')).toEqual(['raw', 'raw-ids', 'switchboard', 'switchboard-amo']);
    expect(implsFor('redis://127.0.0.1:6379').find((s) => s.id === 'raw-ids')).toMatchObject({ equalGuarantee: true, client: expect.stringMatching(/sb-id$/) });
    expect(implFactory('redis://127.0.0.1:6379', 'raw-ids')).toBeDefined();
    expect(ids('memory://')).toEqual(['switchboard', 'switchboard-amo']);
    const nats = implsFor('nats://127.0.0.1:4222');
    expect(nats.find((s) => s.id === 'raw')).toMatchObject({ equalGuarantee: true, client: expect.stringMatching(/ackAck$/) });
    expect(nats.find((s) => s.id === 'raw-ack')).toMatchObject({ equalGuarantee: false, client: expect.stringMatching(/ ack$/) });
    expect(implsFor('amqp://127.0.0.1').find((s) => s.id === 'raw-ids')).toMatchObject({ equalGuarantee: true, client: expect.stringMatching(/message_id\+timestamp$/) });
    expect(implFactory('amqp://127.0.0.1', 'raw-ids')).toBeDefined();
    expect(implFactory('kafka://127.0.0.1:9092', 'raw-ids')).toBeDefined();
    expect(implFactory('sqs+http://127.0.0.1:4566', 'raw-ids')).toBeUndefined();
    expect(implsFor('kafka://127.0.0.1:9092', ['raw-batch', 'switchboard']).map((s) => s.id)).toEqual(['raw-batch', 'switchboard']);
  });

  test('implementations - ratio rows put every Switchboard row against every raw row; only the default against an equal baseline counts as equal', () => {
    const impls = [
      impl('raw', 'raw', [run({ endToEndRate: 1000 })], true),
      impl('raw-ack', 'raw', [run({ endToEndRate: 2000 })]),
      impl('switchboard', 'switchboard', [run({ endToEndRate: 500, p99Ms: 4 })]),
      impl('switchboard-amo', 'switchboard', [run({ endToEndRate: 1500 })]),
    ];
    const rows = ratioRows(impls);
    expect(rows.map((r) => [r.switchboard, r.raw, r.equalGuarantee])).toEqual([
      ['switchboard', 'raw', true],
      ['switchboard', 'raw-ack', false],
      ['switchboard-amo', 'raw', false],
      ['switchboard-amo', 'raw-ack', false],
    ]);
    expect(rows[0]!.ratios.endToEndRate).toBe(0.5);
    expect(rows[0]!.ratios.p99Ms).toBe(2);
    expect(rows[3]!.ratios.endToEndRate).toBe(0.75);
  });

  test('implementations - the ordered queue is a row of its own on RabbitMQ and NATS JetStream, compared with the unordered row of the run', () => {
    expect(implsFor('amqp://127.0.0.1').find((s) => s.id === 'switchboard-ordered')).toMatchObject({ kind: 'switchboard', client: 'switchboard ordered (partitions=8, 64 keys)', equalGuarantee: false });
    expect(implsFor('nats://127.0.0.1:4222?partitions=3').find((s) => s.id === 'switchboard-ordered')?.client).toBe('switchboard ordered (partitions=3, 64 keys)');
    expect(implFactory('amqp://127.0.0.1', 'switchboard-ordered')).toBeDefined();
    expect(implFactory('kafka://127.0.0.1:9092', 'switchboard-ordered')).toBeUndefined();
    expect(implFactory('memory://', 'switchboard-ordered')).toBeUndefined();
    const rows = ratioRows([
      impl('raw', 'raw', [run({ endToEndRate: 1000 })], true),
      impl('switchboard', 'switchboard', [run({ endToEndRate: 800 })]),
      impl('switchboard-ordered', 'switchboard', [run({ endToEndRate: 200 })]),
    ]);
    expect(rows.map((r) => [r.switchboard, r.raw])).toEqual([
      ['switchboard', 'raw'],
      ['switchboard-ordered', 'raw'],
      ['switchboard-ordered', 'switchboard'],
    ]);
    expect(rows[2]!.ratios.endToEndRate).toBe(0.25);
  });

  test('implementations - NATS acks that do not wait are their own row, equal to the fire-and-forget raw ack and to nothing else', () => {
    expect(implsFor('nats://127.0.0.1:4222').find((s) => s.id === 'switchboard-ack')).toMatchObject({ kind: 'switchboard', client: 'switchboard ackConfirm=false' });
    expect(implFactory('nats://127.0.0.1:4222', 'switchboard-ack')).toBeDefined();
    expect(implFactory('memory://', 'switchboard-ack')).toBeUndefined();
    const rows = ratioRows([
      impl('raw', 'raw', [run({})], true),
      impl('raw-ack', 'raw', [run({})]),
      impl('switchboard-ack', 'switchboard', [run({})]),
    ]);
    expect(rows.map((r) => [r.switchboard, r.raw, r.equalGuarantee])).toEqual([
      ['switchboard-ack', 'raw', false],
      ['switchboard-ack', 'raw-ack', true],
    ]);
  });

  test('implementations - soak checkpoints render as one line per run with the growth from first to last', () => {
    const cp = (messages: number, mib: number) => ({ messages, atMs: 0, heapDelta: mib * 2 ** 20, heapUsed: 0, rss: 0 });
    const r = run({ heapCheckpoints: [cp(100_000, 10), cp(200_000, 12.5)] });
    const report = { results: [{ backend: 'memory', impls: [impl('switchboard', 'switchboard', [r])] }] } as unknown as BenchReport;
    expect(checkpointLines(report)).toEqual([
      'memory switchboard run 1: heap after GC above the start, MiB, by messages acked: 100k 10.0, 200k 12.5; last - first 2.5 MiB',
    ]);
  });
});
