import type { BackendResult, BenchReport, ImplResult } from './bench';
import { formatMiB, formatMs, formatRate, formatRatio } from './stats';

/** The table's column headers, in order. */
export const COLUMNS = ['backend', 'client', 'publish msg/s', 'end-to-end msg/s', 'wall s', 'p50 ms', 'p99 ms', 'peak RSS MiB', 'heap Δ MiB'] as const;

function implRow(backend: string, impl: ImplResult): string[] {
  const s = impl.summary;
  if (!s) return [backend, impl.client, 'failed', '', '', '', '', '', ''];
  return [
    backend,
    impl.client,
    formatRate(s.publishRate),
    formatRate(s.endToEndRate),
    (s.wallMs / 1000).toFixed(2),
    formatMs(s.p50Ms),
    formatMs(s.p99Ms),
    formatMiB(s.rssPeak),
    formatMiB(s.heapDelta),
  ];
}

/** The rows of one backend: raw (when there is one), Switchboard, and the Switchboard/raw ratio. */
export function tableRows(r: BackendResult): string[][] {
  const rows: string[][] = [];
  if (r.raw) rows.push(implRow(r.backend, r.raw));
  rows.push(implRow(r.backend, r.switchboard));
  const q = r.ratios;
  rows.push([r.backend, 'ratio sb/raw', formatRatio(q.publishRate), formatRatio(q.endToEndRate), '', '', '', formatRatio(q.rssPeak), formatRatio(q.heapDelta)]);
  return rows;
}

/** One line that says what was measured: N, S, repetitions and the fixed workload settings. */
export function describeParams(report: BenchReport): string {
  const p = report.params;
  return (
    `N=${p.messages} messages of S=${p.size} bytes, ${p.repeat} repetition${p.repeat === 1 ? '' : 's'} per implementation (median shown), ` +
    `raw and Switchboard alternating after ${p.warmupMessages > 0 ? `a ${p.warmupMessages}-message warm-up each` : 'no warm-up'}; ` +
    `batches of ${p.batch}, ${p.inflight} in flight, confirm on; prefetch ${p.prefetch}; deadline ${Math.round(p.deadlineMs / 1000)} s per run; ` +
    (p.isolation === 'process' ? 'each run in a fresh child process, after its warm-up in that process' : 'all runs in this process')
  );
}

function errorLines(report: BenchReport): string[] {
  return report.results.flatMap((r) => r.errors.map((e) => `${r.backend} (${r.url}) ${e}`));
}

/** A plain-text table for a terminal. */
export function renderText(report: BenchReport): string {
  const rows = [[...COLUMNS], ...report.results.flatMap(tableRows)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [`switchboard bench: ${describeParams(report)}`, '', line(rows[0]!), ...rows.slice(1).map(line)];
  const errs = errorLines(report);
  if (errs.length) out.push('', 'failed runs:', ...errs.map((e) => `  ${e}`));
  return out.join('\n');
}

/** A Markdown table (with the parameters and machine above it) for docs. */
export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const out = [
    `Measured ${report.date} on ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}.`,
    '',
    `${describeParams(report)}.`,
    '',
    `| ${COLUMNS.join(' | ')} |`,
    `| ${COLUMNS.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`,
    ...report.results.flatMap(tableRows).map((row) => `| ${row.join(' | ')} |`),
  ];
  const errs = errorLines(report);
  if (errs.length) out.push('', 'Failed runs:', '', ...errs.map((e) => `- ${e}`));
  return `${out.join('\n')}\n`;
}

/** The report as one JSON document; missing values (ratios without a baseline, no raw client) are null. */
export function toJson(report: BenchReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (value === undefined ? null : value), 2);
}
