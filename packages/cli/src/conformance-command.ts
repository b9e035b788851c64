import fs from 'node:fs';
import { SwitchboardError, redactUrl } from '@switchboard/core';
import { runShell as runSoakShell } from '@switchboard/soak';
import { defineConformanceSuite, renderHtml, renderMarkdown, renderText, toJson, type ConformanceReport } from '@switchboard/conformance';
import { type CommandSpec, parseFlags, stringFlag } from './flags';
import { clusterControlOf, NODE_FLAGS, parseNodeCommands, type NodeCommands } from './node-commands';
import { type Output, UsageError, writeUserFile } from './output';

export interface ConformanceArgs {
  url: string;
  /** Column name in reports (default: the adapter's backend name). */
  name?: string | undefined;
  json: boolean;
  report: string | undefined;
  only: string[] | undefined;
  restartCommand: string | undefined;
  /** Cluster node control for F6 (--kill-command, --start-command, --nodes). */
  nodeCommands: NodeCommands | undefined;
  loadCount: number | undefined;
  timeScale: number | undefined;
  concurrency: number | undefined;
}

/** Runs a shell command and resolves when it exits 0, with no time limit (the F2 restart and F6 node hooks): the soak's `runShell`. */
export const runShell = (command: string): Promise<void> => runSoakShell(command, 0);

/**
 * Writes the matrix as Markdown or HTML, or the reports as JSON (one report, or an array of them),
 * chosen by the file extension. Throws {@link UsageError} for another extension and a
 * `SwitchboardError` (one line) when the file cannot be written.
 */
export function writeReport(file: string, reports: readonly ConformanceReport[]): void {
  if (/\.html?$/i.test(file)) writeUserFile(file, renderHtml(reports));
  else if (/\.md$/i.test(file)) writeUserFile(file, renderMarkdown(reports));
  else if (/\.json$/i.test(file)) writeUserFile(file, `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
  else throw new UsageError(`${file}: use a .md, .html or .json file name`);
}

/** `switchboard conformance`: its help and its flags (parsed from this table, so the help lists every flag). */
export const CONFORMANCE_COMMAND: CommandSpec = {
  name: 'conformance',
  summary: 'Run the conformance catalogue against a URL and print what holds there.',
  synopsis: '[--url URL] [--json] [--report FILE] [--only ID,ID...] [flags]',
  description: `Runs every case of the conformance catalogue (or those of --only) against URL and prints one line per case: pass, pass (emulated), FAIL with the reason, or n/a with the capability the backend lacks. Passwords in URLs never appear in the output.

Fault cases need control of the broker: F2 restarts it with --restart-command; F6 crashes one node of a cluster with --kill-command and starts it again with --start-command (without a leader lookup it crashes the first of --nodes).

The result goes to stdout (the text, or one JSON document with --json); progress and failures go to stderr.`,
  flags: {
    url: { type: 'string', value: 'URL', help: 'The broker to test (default: $SWITCHBOARD_URL, else memory://). Run switchboard --help for the URL of each backend.' },
    name: { type: 'string', value: 'NAME', help: "The report's column name (default: the backend's name, e.g. kafka)." },
    json: { type: 'boolean', help: 'Print the report as one JSON document on stdout instead of the text.' },
    report: { type: 'string', value: 'FILE', help: 'Also write the report to FILE: a .md or .html matrix, or .json (the JSON report, which switchboard report merges).' },
    only: { type: 'string', value: 'ID,ID...', help: 'Run only these cases, e.g. RD1,RD2 (an unknown id is a usage error).' },
    'restart-command': { type: 'string', value: 'CMD', help: "A shell command (run with bash -c) that restarts the broker and returns once it serves again, e.g. './scripts/brokers restart kafka'. F2 needs it; without it F2 reports \"no broker control given\"." },
    ...NODE_FLAGS,
    'load-count': { type: 'string', value: 'N', help: 'Messages the load case L1 sends (default 100000).' },
    'time-scale': { type: 'string', value: 'X', help: 'Multiply every wait and deadline by X, a positive number (default 1); raise it for slow brokers.' },
    concurrency: { type: 'string', value: 'N', help: 'Cases run at once (default 1: timing cases are most honest alone).' },
  },
  exitStatus: '0  nothing failed\n1  a case failed\n2  usage or connection error',
};

/** `switchboard report`: its help and its flags. */
export const REPORT_COMMAND: CommandSpec = {
  name: 'report',
  summary: 'Merge saved JSON reports into one matrix (Markdown, HTML or JSON).',
  synopsis: 'FILE.json... --out FILE.md|FILE.html|FILE.json',
  description: `Reads JSON reports saved by switchboard conformance --report FILE.json (or --json > FILE.json), each a report or an array of them, and writes one matrix with a column per report.`,
  flags: {
    out: { type: 'string', value: 'FILE', help: 'Where to write: .md (Markdown matrix), .html, or .json (the reports as one JSON array).' },
  },
  exitStatus: '0  written\n2  usage error, or a report that cannot be read or is not a conformance report',
};

function positiveNumber(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} needs a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  }
  return n;
}

/** Parses the arguments after `conformance`; throws {@link UsageError} on anything wrong. `env` supplies `SWITCHBOARD_URL`. */
export function parseConformanceArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): ConformanceArgs {
  const { values } = parseFlags(CONFORMANCE_COMMAND, args);
  const report = stringFlag(values, 'report');
  if (report !== undefined && !/\.(md|html?|json)$/i.test(report)) throw new UsageError(`--report ${report}: use a .md, .html or .json file name`);
  const only = stringFlag(values, 'only');
  const restartCommand = stringFlag(values, 'restart-command');
  if (restartCommand !== undefined && restartCommand.trim() === '') throw new UsageError('--restart-command needs a command');
  return {
    url: stringFlag(values, 'url') ?? env.SWITCHBOARD_URL ?? 'memory://',
    name: stringFlag(values, 'name'),
    json: values.json === true,
    report,
    only: only?.split(',').map((s) => s.trim()).filter(Boolean),
    restartCommand,
    nodeCommands: parseNodeCommands({ kill: stringFlag(values, 'kill-command'), start: stringFlag(values, 'start-command'), nodes: stringFlag(values, 'nodes') }),
    loadCount: positiveNumber('--load-count', stringFlag(values, 'load-count'), true),
    timeScale: positiveNumber('--time-scale', stringFlag(values, 'time-scale'), false),
    concurrency: positiveNumber('--concurrency', stringFlag(values, 'concurrency'), true),
  };
}

function isReport(value: unknown): value is ConformanceReport {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<ConformanceReport>;
  return (
    typeof r.backend === 'string' &&
    Array.isArray(r.results) &&
    r.results.every((c) => typeof c === 'object' && c !== null && typeof c.id === 'string' && ['passed', 'failed', 'unsupported'].includes(c.status)) &&
    typeof r.summary === 'object' &&
    r.summary !== null &&
    ['passed', 'failed', 'unsupported'].every((k) => typeof (r.summary as Record<string, unknown>)[k] === 'number')
  );
}

/**
 * Reads one saved report file: a JSON report or an array of them. Throws a `SwitchboardError`
 * with a one-line message: `not_found` for a file that cannot be read, `invalid_argument` for one
 * that is not JSON or not a conformance report.
 */
export function readReportFile(file: string): ConformanceReport[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a folder' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new SwitchboardError('not_found', `cannot read ${file}: ${why}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SwitchboardError('invalid_argument', `${file} is not JSON (${(err as Error).message.split('\n')[0]}); give the file switchboard conformance --report FILE.json wrote`, { cause: err });
  }
  const reports = Array.isArray(parsed) ? parsed : [parsed];
  if (reports.length === 0 || !reports.every(isReport)) {
    throw new SwitchboardError('invalid_argument', `${file} is not a conformance report (expected backend, results and summary); give the file switchboard conformance --report FILE.json wrote`);
  }
  return reports;
}

/** `switchboard report`: merges the reports of the files into `--out`. Resolves with 0; throws on bad input. */
export function reportCommand(args: readonly string[], out: Output): number {
  const { values, positionals } = parseFlags(REPORT_COMMAND, args, true);
  const file = stringFlag(values, 'out');
  if (positionals.length === 0) throw new UsageError('give one or more JSON report files');
  if (!file) throw new UsageError('--out FILE.md|FILE.html|FILE.json is required');
  if (!/\.(md|html?|json)$/i.test(file)) throw new UsageError(`--out ${file}: use a .md, .html or .json file name`);
  const reports = positionals.flatMap((f) => readReportFile(f));
  writeReport(file, reports);
  out.log(`wrote ${file}`);
  return 0;
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
      brokerControl:
        args.restartCommand || args.nodeCommands
          ? {
              ...(args.restartCommand ? { restart: () => runShell(args.restartCommand!) } : {}),
              ...(args.nodeCommands ? { cluster: clusterControlOf(args.nodeCommands, runShell) } : {}),
            }
          : undefined,
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
