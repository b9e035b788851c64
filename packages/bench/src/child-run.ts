import { fork } from 'node:child_process';
import path from 'node:path';

/** The bench's child process script (built next to this file). */
export const WORKER = path.join(__dirname, 'run-worker.js');

/** What a child sends back when it is done. */
export type ChildResult<M> = { ok: true; measurement: M } | { ok: false; error: string };
/** What a child may send while it runs: messages acked and sent so far. */
export interface ChildProgress {
  progress: { acked: number; sent: number };
}

/**
 * Runs one job in a fresh child process (`--expose-gc` plus `execArgv`) and resolves with its
 * measurement. It settles on exit, not on the message, so a `--cpu-prof` profile is on disk by then;
 * the child is killed after `killAfterMs`. `what` names the process in errors. Progress messages
 * ({@link ChildProgress}) the child sends before its result go to `onProgress`.
 */
export function runInChild<M>(job: unknown, execArgv: readonly string[], killAfterMs: number, what: string, onProgress?: (acked: number, sent: number) => void): Promise<M> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [], { execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    let result: ChildResult<M> | undefined;
    child.on('message', (r: ChildResult<M> | ChildProgress) => {
      if ('progress' in r) onProgress?.(r.progress.acked, r.progress.sent);
      else result = r;
    });
    child.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      if (settled) return;
      settled = true;
      if (result?.ok) resolve(result.measurement);
      else if (result) reject(new Error(result.error));
      else reject(new Error(`${what} exited (${signal ?? code}) without a result${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    child.send(job as object);
  });
}
