import { Duplex } from 'node:stream';
import { coalesceWrites } from '../src/coalesce-writes';

/** A duplex that records how its writes reach the underlying sink: one entry per `_write`/`_writev` call. */
function recorder(highWaterMark = 16 * 1024) {
  const calls: string[][] = [];
  const stream = new Duplex({
    highWaterMark,
    read() {},
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { stream, calls };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('rabbitmq - coalesce writes', () => {
  it('coalesce writes - the frames written in one turn reach the socket in one writev, in order', async () => {
    const { stream, calls } = recorder();
    coalesceWrites(stream);
    stream.write(Buffer.from('a'));
    stream.write(Buffer.from('b'));
    stream.write(Buffer.from('c'));
    expect(calls).toEqual([]);
    await turn();
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('coalesce writes - each turn is flushed at its end: nothing waits for a later write', async () => {
    const { stream, calls } = recorder();
    coalesceWrites(stream);
    stream.write(Buffer.from('1'));
    await turn();
    expect(calls).toEqual([['1']]);
    stream.write(Buffer.from('2'));
    stream.write(Buffer.from('3'));
    await turn();
    expect(calls).toEqual([['1'], ['2', '3']]);
  });

  it('coalesce writes - write still reports back-pressure past the high-water mark, and drain follows the flush', async () => {
    const { stream, calls } = recorder(4);
    coalesceWrites(stream);
    expect(stream.write(Buffer.from('12'))).toBe(true);
    expect(stream.write(Buffer.from('345'))).toBe(false);
    const drained = new Promise<void>((resolve) => stream.once('drain', resolve));
    await drained;
    expect(calls).toEqual([['12', '345']]);
  });

  it('coalesce writes - end in the same turn flushes what was written before it', async () => {
    const { stream, calls } = recorder();
    coalesceWrites(stream);
    stream.write(Buffer.from('x'));
    stream.end(Buffer.from('y'));
    await new Promise<void>((resolve) => stream.once('finish', resolve));
    expect(calls.flat()).toEqual(['x', 'y']);
  });

  it('coalesce writes - a missing stream or one that cannot cork is left alone', () => {
    expect(() => coalesceWrites(undefined)).not.toThrow();
    const plain = { write: () => true } as unknown as Duplex;
    const before = plain.write;
    coalesceWrites(plain);
    expect(plain.write).toBe(before);
  });
});
