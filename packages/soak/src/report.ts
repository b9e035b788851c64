import { formatDuration } from './parse';
import type { SoakResult } from './soak';

const ms = (v: number | undefined) => (v === undefined ? 'n/a' : formatDuration(v));

function errorsText(r: SoakResult): string {
  return r.sendErrors.length === 0 ? 'none' : r.sendErrors.map((e) => `${e.code}${e.retryable ? ' (retryable)' : ' (not retryable)'} ${e.count}`).join(', ');
}

function extended(r: SoakResult): string {
  return r.sendPhaseMs > r.params.durationMs + 1000 ? ' (extended past the duration for the last restart to resume)' : '';
}

function restartLine(x: SoakResult['restarts'][number]): string {
  const status = !x.ok ? `FAILED: ${x.error}` : x.resumed === false ? 'NOT RESUMED' : x.resumed === undefined ? 'not measured (nothing sent after it)' : 'resumed';
  return `restart ${x.index} at ${formatDuration(x.startedAtMs)}: command ${formatDuration(x.commandMs)}, resume ${ms(x.resumeMs)}, receive gap ${formatDuration(x.gapMs)}  ${status}`;
}

/** The result as plain text for a terminal: verdict, counts, errors, restarts, findings. */
export function renderText(r: SoakResult): string {
  const c = r.counts;
  const p = r.params;
  const lines = [
    `soak ${r.backend} ${r.url} (${r.destination}) at ${r.startedAt}`,
    `  ${formatDuration(p.durationMs)} at ${p.rate}/s, ${p.consumers} consumers x concurrency ${p.concurrency}, ${p.size} B, ` +
      (p.restartCommand ? `restart every ${formatDuration(p.restartEveryMs!)} (${p.restartCommand})` : 'no restarts'),
    `  send phase ${formatDuration(r.sendPhaseMs)}${extended(r)} (${r.confirmedRate.toFixed(1)} confirmed/s), drain ${formatDuration(r.drainTookMs)}${r.drained ? '' : ' (deadline reached)'}`,
    `  sent ${c.sent}, confirmed ${c.confirmed}, unconfirmed ${c.unconfirmed}, received ${c.received} unique (${c.deliveries} deliveries), duplicates ${c.duplicates}, lost ${c.lost}, arrived unconfirmed ${c.arrivedUnconfirmed}`,
    `  send attempts ${c.sendAttempts}; send errors: ${errorsText(r)}`,
  ];
  if (r.restarts.length) {
    lines.push(...r.restarts.map((x) => `  ${restartLine(x)}`));
    lines.push(`  resume: max ${ms(r.resume.max)}, median ${ms(r.resume.median)}; receive gap: max ${ms(r.gap.max)}, median ${ms(r.gap.median)}`);
  }
  for (const f of r.consumerFailures) {
    lines.push(`  consumer ${f.consumer} ended at ${formatDuration(f.atMs)} (${f.code}: ${f.message}); ${f.recovered ? `reopened by the soak at ${formatDuration(f.recoveredAtMs!)}` : 'NOT reopened'}`);
  }
  for (const e of r.sendErrors) lines.push(`  first ${e.code} error: ${e.example}`);
  if (r.libraryErrors.length) lines.push(`  reported by the library (onError): ${r.libraryErrors.map((e) => `${e.origin}/${e.code} ${e.count} (first: ${e.example})`).join('; ')}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  lines.push(r.passed ? 'PASSED: no loss' : `FAILED:\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
  return lines.join('\n');
}

/** The result as a Markdown section: a summary table, the restarts table and the findings. */
export function renderMarkdown(r: SoakResult): string {
  const c = r.counts;
  const p = r.params;
  const out = [
    `## Soak: ${r.backend} (${r.passed ? 'passed' : 'FAILED'})`,
    '',
    `${r.url}, queue \`${r.destination}\`, started ${r.startedAt}. ${formatDuration(p.durationMs)} at ${p.rate} msg/s, ` +
      `${p.consumers} consumers (concurrency ${p.concurrency}, prefetch ${p.prefetch}), ${p.size} B messages, at most ${p.maxInFlight} sends in flight; ` +
      (p.restartCommand ? `restart every ${formatDuration(p.restartEveryMs!)} with \`${p.restartCommand}\`.` : 'no restarts.'),
    '',
    '| sent | confirmed | received (unique) | duplicates | lost | arrived unconfirmed | unconfirmed | send errors |',
    '|---:|---:|---:|---:|---:|---:|---:|---|',
    `| ${c.sent} | ${c.confirmed} | ${c.received} | ${c.duplicates} | ${c.lost} | ${c.arrivedUnconfirmed} | ${c.unconfirmed} | ${errorsText(r)} |`,
    '',
    `Send phase ${formatDuration(r.sendPhaseMs)}${extended(r)} (${r.confirmedRate.toFixed(1)} confirmed/s), drain ${formatDuration(r.drainTookMs)}${r.drained ? '' : ' (deadline reached)'}.`,
  ];
  if (r.restarts.length) {
    out.push(
      '',
      '| restart | at | command | time to resume | receive gap | status |',
      '|---:|---:|---:|---:|---:|---|',
      ...r.restarts.map(
        (x) =>
          `| ${x.index} | ${formatDuration(x.startedAtMs)} | ${formatDuration(x.commandMs)} | ${ms(x.resumeMs)} | ${formatDuration(x.gapMs)} | ${!x.ok ? 'command failed' : x.resumed === false ? 'not resumed' : x.resumed === undefined ? 'not measured' : 'resumed'} |`,
      ),
      `| max / median | | | ${ms(r.resume.max)} / ${ms(r.resume.median)} | ${ms(r.gap.max)} / ${ms(r.gap.median)} | |`,
    );
  }
  const findings = [
    ...r.sendErrors.map((e) => `first \`${e.code}\` send error: ${e.example}`),
    ...r.libraryErrors.map((e) => `reported by the library (onError): ${e.origin} / \`${e.code}\` x${e.count}, first: ${e.example}`),
    ...r.consumerFailures.map((f) => `consumer ${f.consumer} ended at ${formatDuration(f.atMs)} (${f.code}: ${f.message}); ${f.recovered ? 'reopened by the soak' : 'not reopened'}`),
    ...r.notes,
    ...r.failures.map((f) => `**failure:** ${f}`),
  ];
  if (findings.length) out.push('', ...findings.map((f) => `- ${f}`));
  return `${out.join('\n')}\n`;
}

/** The result as indented JSON (undefined fields become null). */
export function toJson(r: SoakResult): string {
  return JSON.stringify(r, (_k, v: unknown) => (v === undefined ? null : v), 2);
}
