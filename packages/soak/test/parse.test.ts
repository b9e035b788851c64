import { formatDuration, parseDuration, parseRate } from '@switchboard/soak';

describe('parse', () => {
  test('parse - durations with units, combined units and bare seconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration(' 45 ')).toBe(45_000);
    expect(parseDuration('2M')).toBe(120_000);
  });

  test('parse - bad durations throw a RangeError naming the input', () => {
    for (const bad of ['', 'x', '0', '0s', '-5s', '5d', '5 s', 's', '1m 30s', '1.s']) {
      expect(() => parseDuration(bad)).toThrow(RangeError);
    }
    expect(() => parseDuration('5d')).toThrow(/"5d"/);
  });

  test('parse - rates in messages per second', () => {
    expect(parseRate('200')).toBe(200);
    expect(parseRate('50/s')).toBe(50);
    expect(parseRate('0.5')).toBe(0.5);
    for (const bad of ['', '0', '-1', 'fast', '10/m', 'Infinity', '1e3']) expect(() => parseRate(bad)).toThrow(RangeError);
  });

  test('parse - durations formatted for people', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4m05s');
  });
});
