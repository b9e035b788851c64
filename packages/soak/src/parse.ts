const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration: a number with a unit, `ms`, `s`, `m` or `h` (`500ms`, `30s`, `2m`, `1.5h`), or
 * several in a row (`1m30s`). A bare number is seconds. Returns milliseconds, rounded, always > 0.
 * Throws a `RangeError` naming the input for anything else (empty, negative, zero, unknown unit).
 */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(s)) return positive(Math.round(Number(s) * 1000), text);
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== s) {
    throw new RangeError(`"${text}" is not a duration: use a number with ms, s, m or h, e.g. 30s, 2m, 1m30s`);
  }
  return positive(Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0)), text);
}

function positive(ms: number, text: string): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`"${text}" is not a positive duration`);
  return ms;
}

/**
 * Parses a send rate in messages per second: a positive number, optionally followed by `/s`
 * (`200`, `50/s`, `0.5`). Throws a `RangeError` naming the input otherwise.
 */
export function parseRate(text: string): number {
  const s = text.trim().toLowerCase().replace(/\/s$/, '');
  const n = /^\d+(\.\d+)?$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`"${text}" is not a rate: use a positive number of messages per second, e.g. 200`);
  return n;
}

/** A duration for people: `850 ms`, `12.3 s`, `4m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
}
