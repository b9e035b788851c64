import type { BackendResult, BenchReport, ImplResult } from './bench';
import { formatMiB, formatMs, formatRate, formatRatio, formatSpread, type Spread } from './stats';

/** The main table's column headers, in order. */
export const COLUMNS = [
  'backend',
  'client',
  'runs × msgs',
  'end-to-end msg/s (min-max)',
  'publish msg/s',
  'p50 ms',
  'p99 ms (min-max)',
  'peak heap Δ MiB (min-max)',
  'heap after GC Δ MiB',
  'peak RSS MiB',
  'CPU µs/msg',
] as const;

/** The ratio table's column headers, in order. */
export const RATIO_COLUMNS = ['backend', 'Switchboard / raw', 'same guarantee', 'end-to-end', 'p99', 'peak heap Δ', 'heap after GC Δ', 'peak RSS', 'CPU/msg'] as const;

/** "median (min-max)", or just the median when there was one run or no spread. */
function withSpread(s: Spread | undefined, format: (n: number) => string): string {
  if (!s) return 'n/a';
  const med = format(s.median);
  const range = formatSpread(s, format);
  return range === med ? med : `${med} (${range})`;
}

function implRow(backend: string, impl: ImplResult): string[] {
  const s = impl.summary;
  if (!s) return [backend, impl.client, 'failed', '', '', '', '', '', '', '', ''];
  const k = s.messages >= 1000 ? `${Math.round(s.messages / 1000)}k` : String(s.messages);
  return [
    backend,
    impl.client,
    `${s.runs} × ${k}`,
    withSpread(s.spread.endToEndRate, formatRate),
    formatRate(s.publishRate),
    formatMs(s.p50Ms),
    withSpread(s.spread.p99Ms, formatMs),
    withSpread(s.spread.heapDelta, formatMiB),
    formatMiB(s.heapAfterGcDelta),
    formatMiB(s.rssPeak),
    Number.isFinite(s.cpuMicrosPerMessage) ? s.cpuMicrosPerMessage.toFixed(1) : 'n/a',
  ];
}

/** The rows of one backend in the main table: every implementation, raw ones first. */
export function tableRows(r: BackendResult): string[][] {
  return r.impls.map((i) => implRow(r.backend, i));
}

/** The rows of one backend in the ratio table: every Switchboard row against every raw row. */
export function ratioTableRows(r: BackendResult): string[][] {
  return r.ratioRows.map((q) => [
    r.backend,
    q.label,
    q.equalGuarantee ? 'yes' : 'no',
    formatRatio(q.ratios.endToEndRate),
    formatRatio(q.ratios.p99Ms),
    formatRatio(q.ratios.heapDelta),
    formatRatio(q.ratios.heapAfterGcDelta),
    formatRatio(q.ratios.rssPeak),
    formatRatio(q.ratios.cpuMicrosPerMessage),
  ]);
}

/** Soak checkpoints as lines: "memory switchboard run 1: 100k 12.3 MiB, 200k 12.5 MiB, ...". */
export function checkpointLines(report: BenchReport): string[] {
  const lines: string[] = [];
  for (const r of report.results) {
    for (const impl of r.impls) {
      impl.runs.forEach((run, i) => {
        if (run.heapCheckpoints.length === 0) return;
        const points = run.heapCheckpoints.map((c) => `${c.messages >= 1000 ? `${Math.round(c.messages / 1000)}k` : c.messages} ${formatMiB(c.heapDelta)}`);
        const first = run.heapCheckpoints[0]!;
        const last = run.heapCheckpoints[run.heapCheckpoints.length - 1]!;
        lines.push(
          `${r.backend} ${impl.client} run ${i + 1}: heap after GC above the start, MiB, by messages acked: ${points.join(', ')}; ` +
            `last - first ${formatMiB(last.heapDelta - first.heapDelta)} MiB`,
        );
      });
    }
  }
  return lines;
}

/** One line that says what was measured: N, S, repetitions and the fixed workload settings. */
export function describeParams(report: BenchReport): string {
  const p = report.params;
  const minS = (p.minDurationMs ?? 0) / 1000;
  return (
    `N=${p.messages} messages${minS > 0 ? ` or ${minS} s of sending, whichever is longer,` : ''} of S=${p.size} bytes, ${p.repeat} repetition${p.repeat === 1 ? '' : 's'} per implementation (median shown, min-max in brackets), ` +
    `implementations alternating (ABAB) after ${p.warmupMessages > 0 ? `a ${p.warmupMessages}-message warm-up each` : 'no warm-up'}; ` +
    `batches of ${p.batch}, ${p.inflight} in flight, confirm on; prefetch ${p.prefetch}; deadline ${Math.round(p.deadlineMs / 1000)} s per run; ` +
    (p.isolation === 'process' ? 'each run in a fresh child process, after its warm-up in that process' : 'all runs in this process') +
    (p.heapEvery ? `; heap after GC every ${p.heapEvery} messages` : '') +
    (p.maxBacklog ? `; at most ${p.maxBacklog} messages sent and not yet acked` : '') +
    `; load average ${report.load.start.join(' ')} at the start, ${report.load.end.join(' ')} at the end`
  );
}

function errorLines(report: BenchReport): string[] {
  return report.results.flatMap((r) => r.errors.map((e) => `${r.backend} (${r.url}) ${e}`));
}

function textTable(columns: readonly string[], body: string[][]): string[] {
  const rows = [[...columns], ...body];
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return rows.map(line);
}

function markdownTable(columns: readonly string[], body: string[][]): string[] {
  return [`| ${columns.join(' | ')} |`, `| ${columns.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`, ...body.map((row) => `| ${row.join(' | ')} |`)];
}

/** A plain-text table for a terminal. */
export function renderText(report: BenchReport): string {
  const out = [`switchboard bench: ${describeParams(report)}`, '', ...textTable(COLUMNS, report.results.flatMap(tableRows))];
  const ratioBody = report.results.flatMap(ratioTableRows);
  if (ratioBody.length) out.push('', ...textTable(RATIO_COLUMNS, ratioBody));
  const points = checkpointLines(report);
  if (points.length) out.push('', ...points);
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
    ...markdownTable(COLUMNS, report.results.flatMap(tableRows)),
  ];
  const ratioBody = report.results.flatMap(ratioTableRows);
  if (ratioBody.length) out.push('', ...markdownTable(RATIO_COLUMNS, ratioBody));
  const points = checkpointLines(report);
  if (points.length) out.push('', ...points.map((p) => `- ${p}`));
  const errs = errorLines(report);
  if (errs.length) out.push('', 'Failed runs:', '', ...errs.map((e) => `- ${e}`));
  return `${out.join('\n')}\n`;
}

/** The report as one JSON document; missing values (ratios without a baseline, no raw client) are null. */
export function toJson(report: BenchReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (value === undefined || (typeof value === 'number' && !Number.isFinite(value)) ? null : value), 2);
}
