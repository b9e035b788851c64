import { CASE_IDS, renderHtml, renderMarkdown, renderText, toJson, type ConformanceReport } from '@switchboard/conformance';

const report: ConformanceReport = {
  backend: 'demo',
  url: 'demo://x',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1500,
  results: [
    { id: 'RF1', title: 'fire and forget', status: 'passed', support: 'native', durationMs: 3 },
    { id: 'EO1', title: 'dedup', status: 'passed', support: 'emulated', durationMs: 4 },
    { id: 'AL2', title: 'crash', status: 'unsupported', support: 'none', reason: 'no <second> process', durationMs: 0 },
    { id: 'RD1', title: 'timeout', status: 'failed', support: 'native', reason: 'came back | early', durationMs: 9 },
  ],
  summary: { passed: 2, failed: 1, unsupported: 1 },
};

describe('report', () => {
  test('report - JSON keeps the catalogue format', () => {
    const parsed = JSON.parse(toJson(report)) as ConformanceReport;
    expect(Object.keys(parsed)).toEqual(expect.arrayContaining(['backend', 'url', 'startedAt', 'durationMs', 'results', 'summary']));
    expect(parsed.results[2]).toMatchObject({ id: 'AL2', status: 'unsupported', support: 'none', reason: 'no <second> process' });
  });

  test('report - markdown lists every catalogue case and the reasons', () => {
    const md = renderMarkdown([report]);
    for (const id of CASE_IDS) expect(md).toContain(`| ${id} `);
    expect(md).toContain('pass (emulated)');
    expect(md).toContain('- AL2 unsupported: no <second> process');
    expect(md).toContain('came back \\| early');
  });

  test('report - HTML is self-contained and escapes reasons', () => {
    const html = renderHtml([report]);
    expect(html).not.toMatch(/<(link|script)\b/);
    expect(html).toContain('no &lt;second&gt; process');
    expect(html).toContain('class="failed"');
  });

  test('report - text table ends with the summary line', () => {
    expect(renderText(report).trim().split('\n').pop()).toMatch(/^2 passed, 1 failed, 1 unsupported/);
  });
});
