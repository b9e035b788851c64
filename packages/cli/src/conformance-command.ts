import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { SwitchboardError, redactUrl } from '@switchboard/core';
import { defineConformanceSuite, renderHtml, renderMarkdown, renderText, toJson, type ConformanceReport } from '@switchboard/conformance';
import { type Output, UsageError } from './output';

export interface ConformanceArgs {
  url: string;
  /** Column name in reports (default: the adapter's backend name). */
  name?: string | undefined;
  json: boolean;
  report: string | undefined;
  only: string[] | undefined;
  restartCommand: string | undefined;
  loadCount: number | undefined;
  timeScale: number | undefined;
  concurrency: number | undefined;
}

/** Runs a shell command and resolves when it exits 0 (the F2 broker restart hook). */
export function runShell(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`"${command}" exited with ${code}: ${err.trim()}`))));
  });
}

/** Writes the matrix as Markdown or HTML, chosen by the file extension. */
export function writeReport(file: string, reports: readonly ConformanceReport[]): void {
  if (/\.html?$/i.test(file)) fs.writeFileSync(file, renderHtml(reports));
  else if (/\.md$/i.test(file)) fs.writeFileSync(file, renderMarkdown(reports));
  else if (/\.json$/i.test(file)) fs.writeFileSync(file, `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
  else throw new UsageError(`--report ${file}: use a .md, .html or .json file name`);
}

/**
 * `switchboard conformance`: exit 0 when nothing failed, 1 when a case failed, 2 on a usage or
 * connection error (thrown to the caller).
 */
export async function conformanceCommand(args: ConformanceArgs, out: Output): Promise<number> {
  if (args.report && !/\.(md|html?|json)$/i.test(args.report)) throw new UsageError(`--report ${args.report}: use a .md, .html or .json file name`);
  let suite;
  try {
    suite = defineConformanceSuite({
      url: args.url,
      name: args.name,
      only: args.only,
      loadCount: args.loadCount,
      timeScale: args.timeScale,
      concurrency: args.concurrency,
      brokerControl: args.restartCommand ? { restart: () => runShell(args.restartCommand!) } : undefined,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const total = suite.cases.length;
  let done = 0;
  let failed = 0;
  const progress = out.progress;
  let report: ConformanceReport;
  try {
    report = await suite.run({
      onCaseStart: (c) => progress?.(`[${done}/${total}] ${failed ? `${failed} failed, ` : ''}running ${c.id} ${c.title}`),
      onCaseEnd: (r) => {
        done++;
        if (r.status === 'failed') {
          failed++;
          out.log(`${r.id} failed: ${r.reason ?? ''}`);
        }
        progress?.(`[${done}/${total}] ${failed ? `${failed} failed, ` : ''}${r.id} ${r.status}`);
      },
    });
  } catch (err) {
    if (err instanceof SwitchboardError) throw err;
    throw new SwitchboardError('connection', `conformance run against ${redactUrl(args.url)} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    progress?.(undefined);
  }
  if (args.json) out.stdout(`${toJson(report)}\n`);
  else out.stdout(`${renderText(report)}\n`);
  if (args.report) {
    writeReport(args.report, [report]);
    out.log(`wrote ${args.report}`);
  }
  return report.summary.failed > 0 ? 1 : 0;
}
