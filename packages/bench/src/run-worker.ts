/**
 * Child-process entry of an isolated run (not exported): receives one {@link IsolatedJob} (or an idle-consumers job) over IPC,
 * registers the given driver modules, runs an unrecorded warm-up, then the workload once, and sends back the measurement or
 * the error, then exits (adapters' background timers must not keep it alive).
 */
import { registerDriver, type Driver } from '@switchboard/core';
import { backendName, errorText, implFactory, type IsolatedJob, type IsolatedResult } from './bench';
import type { IdleJob, IdleJobResult } from './idle-bench';
import { rawIdleFor, runIdle, switchboardIdle } from './idle-consumers';
import type { ChildProgress } from './child-run';
import { runOnce } from './workload';

process.once('message', (job: IsolatedJob | IdleJob) => {
  void (async (): Promise<IsolatedResult | IdleJobResult> => {
    try {
      for (const file of job.driverModules) {
        const mod = require(file) as { driver?: Driver };
        if (mod.driver) registerDriver(mod.driver);
      }
      if (job.kind === 'idle') {
        const factory = job.impl === 'raw' ? rawIdleFor(backendName(job.url)) : switchboardIdle();
        if (!factory) throw new Error(`no raw idle client for ${job.url}`);
        return { ok: true, measurement: await runIdle(factory, job.url, job.prefix, job.params) };
      }
      const factory = implFactory(job.url, job.impl);
      if (!factory) throw new Error(`no implementation ${job.impl} for ${job.url}`);
      if (job.warmupMessages > 0) await runOnce(factory, job.url, `${job.destination}-w`, { ...job.params, messages: job.warmupMessages, minDurationMs: 0, heapEvery: 0 });
      const onProgress = (acked: number, sent: number) => void process.send!({ progress: { acked, sent } } satisfies ChildProgress);
      return { ok: true, measurement: await runOnce(factory, job.url, job.destination, job.params, { onProgress }) };
    } catch (err) {
      return { ok: false, error: errorText(err) };
    }
  })().then((result) => process.send!(result, undefined, {}, () => process.exit(0)));
});
