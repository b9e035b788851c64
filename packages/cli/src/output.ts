import fs from 'node:fs';
import { SwitchboardError } from '@switchboard/core';

/** Where the CLI writes: stdout carries only the result (e.g. the JSON report); everything else goes to stderr. */
export interface Output {
  stdout(text: string): void;
  log(text: string): void;
  /**
   * The status of a long run (undefined: the run is over). On a TTY a live line, rewritten in
   * place; elsewhere (a CI log, a file) a plain line now and then (see {@link processOutput}).
   */
  progress?: (line: string | undefined) => void;
}

/** A mistake in the command line: `main` prints its message in one line, a hint to `--help`, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Width assumed when the terminal does not tell its own (`columns` undefined, 0 or not a number). */
export const DEFAULT_COLUMNS = 80;

/**
 * Fits a progress line into a terminal `columns` wide without reaching the last column (which
 * would wrap it): cut with an ellipsis when too long, empty when nothing fits. A width the terminal
 * does not tell (undefined, 0, not a finite number) counts as {@link DEFAULT_COLUMNS}.
 */
export function fitLine(line: string, columns: number | undefined): string {
  const width = columns !== undefined && Number.isFinite(columns) && columns > 0 ? Math.floor(columns) : DEFAULT_COLUMNS;
  const room = width - 1;
  const single = line.replace(/[\r\n]+/g, ' ');
  if (single.length <= room) return single;
  if (room < 2) return '';
  return `${single.slice(0, room - 1)}…`;
}

/** What {@link processOutput} writes to: `process.stdout` and `process.stderr` by default. */
export interface OutputStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/** How often a progress line is written when stderr is not a TTY, at most: every 30 s. */
export const LOG_PROGRESS_EVERY_MS = 30_000;

/**
 * The CLI's {@link Output} over real streams. On a TTY the progress line is live: rewritten at
 * each update and fitted to the terminal's width as it is then (see {@link fitLine}). When stderr
 * is not a TTY (a CI log, a file), the latest status is written as a plain line once
 * `everyMs` have passed since the start or since the last one, so a run shorter than that writes
 * none, and a long one (a 30-minute soak, a conformance run) shows it is alive and where it is.
 */
export function processOutput(
  streams: OutputStreams = { stdout: process.stdout, stderr: process.stderr },
  { everyMs = LOG_PROGRESS_EVERY_MS, now = Date.now }: { everyMs?: number; now?: () => number } = {},
): Output {
  const { stdout, stderr } = streams;
  let shown = false;
  const clear = () => {
    if (shown) stderr.write('\r\x1b[K');
    shown = false;
  };
  let last = now();
  return {
    stdout: (text) => void stdout.write(text),
    log: (text) => {
      clear();
      stderr.write(`${text}\n`);
    },
    progress: stderr.isTTY
      ? (line) => {
          clear();
          if (line === undefined) return;
          const fitted = fitLine(line, stderr.columns);
          if (fitted === '') return;
          stderr.write(fitted);
          shown = true;
        }
      : (line) => {
          const t = now();
          if (line === undefined || t - last < everyMs) return;
          last = t;
          stderr.write(`${line.replace(/[\r\n]+/g, ' ')}\n`);
        },
  };
}

/**
 * Writes a file the user named (`--out`, `--report`). A failure (no such folder, no permission)
 * throws a `SwitchboardError` (`invalid_argument`) with a one-line message instead of a stack trace.
 */
export function writeUserFile(file: string, text: string): void {
  try {
    fs.writeFileSync(file, text);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'its folder does not exist' : e.code === 'EISDIR' ? 'it is a folder' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new SwitchboardError('invalid_argument', `cannot write ${file}: ${why}`, { cause: err });
  }
}
