#!/usr/bin/env node
import { main } from './main';
import { processOutput } from './output';

main(process.argv.slice(2), processOutput()).then(
  (code) => {
    process.exitCode = code;
    // Adapters' background timers must not keep a finished run alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`switchboard: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
