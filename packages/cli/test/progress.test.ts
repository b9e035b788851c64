import { DEFAULT_COLUMNS, fitLine, processOutput } from '@switchboard/cli';

function fakeStreams(stderr: { isTTY?: boolean; columns?: number }) {
  const written = { out: '', err: '' };
  return {
    written,
    streams: {
      stdout: { write: (t: string) => void (written.out += t) },
      stderr: { ...stderr, write: (t: string) => void (written.err += t) },
    },
  };
}

const long = `[3/120] running RD1 ${'a redelivery waits for its timeout '.repeat(5)}`;

describe('cli progress', () => {
  test('cli progress - a line fits into the terminal without touching its last column', () => {
    expect(fitLine('short', 40)).toBe('short');
    expect(fitLine(long, 40)).toHaveLength(39);
    expect(fitLine(long, 40).endsWith('…')).toBe(true);
    expect(fitLine('x'.repeat(39), 40)).toBe('x'.repeat(39));
    expect(fitLine('x'.repeat(40), 40)).toBe(`${'x'.repeat(38)}…`);
  });

  test('cli progress - 0, undefined or a nonsense width counts as the default width', () => {
    for (const columns of [0, undefined, Number.NaN, -5, Number.POSITIVE_INFINITY]) {
      const line = fitLine(long, columns);
      expect(line).toHaveLength(DEFAULT_COLUMNS - 1);
      expect(line.startsWith('[3/120] running RD1')).toBe(true);
    }
  });

  test('cli progress - a terminal too narrow for anything gets nothing, not a wrapped line', () => {
    expect(fitLine(long, 1)).toBe('');
    expect(fitLine(long, 2)).toBe('');
    expect(fitLine(long, 3)).toBe('[…');
    expect(fitLine('line\nbreak', 80)).toBe('line break');
  });

  test('cli progress - on a TTY with 0 columns the progress line is shown cut to the default width, then cleared', () => {
    const { written, streams } = fakeStreams({ isTTY: true, columns: 0 });
    const out = processOutput(streams);
    out.progress!(long);
    expect(written.err).toBe(fitLine(long, DEFAULT_COLUMNS));
    out.progress!(undefined);
    out.log('done');
    expect(written.err).toBe(`${fitLine(long, DEFAULT_COLUMNS)}\r\x1b[Kdone\n`);
    expect(written.out).toBe('');
  });

  test('cli progress - the width is read at each update (the terminal was resized)', () => {
    const stderr = { isTTY: true, columns: 20 as number | undefined };
    const { written, streams } = fakeStreams(stderr);
    streams.stderr = Object.assign(streams.stderr, stderr);
    const out = processOutput(streams);
    out.progress!(long);
    streams.stderr.columns = 30;
    out.progress!(long);
    expect(written.err).toBe(`${fitLine(long, 20)}\r\x1b[K${fitLine(long, 30)}`);
  });

  test('cli progress - not a TTY (or undefined isTTY): the latest status as a plain line at most once per interval, none in a short run', () => {
    for (const stderr of [{ isTTY: false }, {}]) {
      const { written, streams } = fakeStreams(stderr);
      let t = 1_000;
      const out = processOutput(streams, { everyMs: 30_000, now: () => t });
      out.progress!('[1/47] running P1');
      t += 29_999;
      out.progress!('[2/47] running P2');
      out.log('hello');
      out.stdout('{}\n');
      expect(written).toEqual({ out: '{}\n', err: 'hello\n' });
      t += 1;
      out.progress!('[3/47] running\nP3');
      out.progress!('[4/47] running P4');
      t += 30_000;
      out.progress!(undefined);
      out.progress!('[5/47] running P5');
      expect(written.err).toBe('hello\n[3/47] running P3\n[5/47] running P5\n');
    }
  });
});
