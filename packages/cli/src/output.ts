/** Where the CLI writes: stdout carries only the result (e.g. the JSON report); everything else goes to stderr. */
export interface Output {
  stdout(text: string): void;
  log(text: string): void;
  /** A live status line on a TTY (undefined clears it); absent when stderr is not a TTY. */
  progress?: (line: string | undefined) => void;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function processOutput(): Output {
  const tty = process.stderr.isTTY;
  let shown = false;
  const clear = () => {
    if (shown) process.stderr.write('\r\x1b[K');
    shown = false;
  };
  return {
    stdout: (text) => void process.stdout.write(text),
    log: (text) => {
      clear();
      process.stderr.write(`${text}\n`);
    },
    progress: tty
      ? (line) => {
          clear();
          if (line !== undefined) {
            const width = process.stderr.columns ?? 100;
            process.stderr.write(line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line);
            shown = true;
          }
        }
      : undefined,
  };
}
