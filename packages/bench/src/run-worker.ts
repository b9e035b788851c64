/**
 * Child-process entry of an isolated run (not exported): receives one {@link IsolatedJob} over IPC,
 * registers the given driver modules, runs an unrecorded warm-up, then the workload once, and sends back the measurement or
 * the error, then exits (adapters' background timers must not keep it alive).
 */
import { registerDriver, type Driver } from '@switchboard/core';
import { errorText, rawBaselineFor, type IsolatedJob, type IsolatedResult } from './bench';
import { switchboardTarget } from './switchboard-target';
import { runOnce } from './workload';

process.once('message', (job: IsolatedJob) => {
  void (async (): Promise<IsolatedResult> => {
    try {
      for (const file of job.driverModules) {
        const mod = require(file) as { driver?: Driver };
        if (mod.driver) registerDriver(mod.driver);
      }
      const factory = job.impl === 'raw' ? rawBaselineFor(job.url)?.factory : switchboardTarget();
      if (!factory) throw new Error(`no raw baseline for ${job.url}`);
      if (job.warmupMessages > 0) await runOnce(factory, job.url, `${job.destination}-w`, { ...job.params, messages: job.warmupMessages });
      return { ok: true, measurement: await runOnce(factory, job.url, job.destination, job.params) };
    } catch (err) {
      return { ok: false, error: errorText(err) };
    }
  })().then((result) => process.send!(result, undefined, {}, () => process.exit(0)));
});
