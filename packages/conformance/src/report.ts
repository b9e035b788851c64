import type { Capabilities } from '@switchboard/core';
import type { CaseResult } from './case';
import { CASES } from './suite';

/** The report of one run, in the catalogue's JSON format (plus the capability table). */
export interface ConformanceReport {
  backend: string;
  url: string;
  startedAt: string;
  durationMs: number;
  capabilities?: Capabilities;
  results: CaseResult[];
  summary: { passed: number; failed: number; unsupported: number };
}

/** The report of a run from its results: passed, failed and unsupported counted. */
export function makeReport(run: { backend: string; url: string; startedAt: Date; capabilities?: Capabilities | undefined }, results: CaseResult[]): ConformanceReport {
  const count = (status: CaseResult['status']) => results.filter((r) => r.status === status).length;
  return {
    backend: run.backend,
    url: run.url,
    startedAt: run.startedAt.toISOString(),
    durationMs: Date.now() - run.startedAt.getTime(),
    ...(run.capabilities ? { capabilities: run.capabilities } : {}),
    results,
    summary: { passed: count('passed'), failed: count('failed'), unsupported: count('unsupported') },
  };
}

/** Exactly the JSON document `switchboard conformance --json` prints. */
export function toJson(report: ConformanceReport): string {
  return JSON.stringify(report, null, 2);
}

const MARK: Record<CaseResult['status'], string> = { passed: 'pass', failed: 'FAIL', unsupported: 'n/a' };

function cell(r: CaseResult | undefined): string {
  if (!r) return '';
  if (r.status === 'passed') return r.support === 'emulated' ? 'pass (emulated)' : 'pass';
  return MARK[r.status];
}

/** A plain-text table for terminals: one line per case. */
export function renderText(report: ConformanceReport): string {
  const lines = [`Switchboard conformance: ${report.backend} (${report.url})`, ''];
  for (const r of report.results) {
    const status = r.status === 'passed' ? `pass${r.support === 'emulated' ? '*' : ' '}` : MARK[r.status].padEnd(5);
    const why = r.status === 'passed' ? (r.detail ?? '') : (r.reason ?? '');
    lines.push(`${r.id.padEnd(4)} ${status.padEnd(5)} ${String(r.durationMs).padStart(6)} ms  ${r.title}${why ? `\n${' '.repeat(23)}${why}` : ''}`);
  }
  const s = report.summary;
  lines.push('', `${s.passed} passed, ${s.failed} failed, ${s.unsupported} unsupported in ${(report.durationMs / 1000).toFixed(1)} s  (* = emulated)`);
  return lines.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function mdEsc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The matrix of cases by backend, with the reasons for every unsupported or failed cell. */
export function renderMarkdown(reports: readonly ConformanceReport[]): string {
  const head = `| Case | ${reports.map((r) => r.backend).join(' | ')} |`;
  const sep = `|---|${reports.map(() => '---').join('|')}|`;
  const rows = CASES.map((c) => {
    const cells = reports.map((rep) => cell(rep.results.find((r) => r.id === c.id)));
    return `| ${c.id} ${mdEsc(c.title)} | ${cells.join(' | ')} |`;
  });
  const notes: string[] = [];
  for (const rep of reports) {
    const why = rep.results.filter((r) => r.status !== 'passed' && r.reason);
    if (why.length === 0) continue;
    notes.push('', `**${rep.backend}**`, '');
    for (const r of why) notes.push(`- ${r.id} ${r.status}: ${mdEsc(r.reason!)}`);
  }
  const summary = reports.map((r) => `${r.backend}: ${r.summary.passed} passed, ${r.summary.failed} failed, ${r.summary.unsupported} unsupported (${r.url}, ${r.startedAt})`);
  return [head, sep, ...rows, '', ...summary.map((s) => `- ${s}`), ...notes, ''].join('\n');
}

/** A self-contained HTML page (no external assets) with the same matrix. */
export function renderHtml(reports: readonly ConformanceReport[]): string {
  const th = reports.map((r) => `<th>${esc(r.backend)}<br><small>${r.summary.passed}/${r.summary.failed}/${r.summary.unsupported}</small></th>`).join('');
  const rows = CASES.map((c) => {
    const tds = reports
      .map((rep) => {
        const r = rep.results.find((x) => x.id === c.id);
        if (!r) return '<td></td>';
        const cls = r.status === 'passed' ? (r.support === 'emulated' ? 'emulated' : 'passed') : r.status;
        const title = r.reason ?? r.detail ?? '';
        return `<td class="${cls}" title="${esc(title)}">${esc(cell(r))}</td>`;
      })
      .join('');
    return `<tr><th scope="row"><code>${c.id}</code> ${esc(c.title)}</th>${tds}</tr>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard conformance matrix</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
td.passed{background:#d9f2d9}td.emulated{background:#e6f0ff}td.failed{background:#f8d0d0;font-weight:bold}td.unsupported{background:#eee;color:#666}
small{color:#666}
</style></head><body>
<h1>Switchboard conformance matrix</h1>
<p>Hover a cell for the reason or the measurement. Columns: passed/failed/unsupported.</p>
<table><thead><tr><th>Case</th>${th}</tr></thead><tbody>
${rows}
</tbody></table>
<p>${reports.map((r) => `${esc(r.backend)}: ${esc(r.url)} at ${esc(r.startedAt)}, ${(r.durationMs / 1000).toFixed(1)} s`).join('<br>')}</p>
</body></html>
`;
}
