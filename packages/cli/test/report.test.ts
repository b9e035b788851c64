import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, readReportFile, type Output } from '@switchboard/cli';
import { SwitchboardError } from '@switchboard/core';

function capture(): Output & { out: string; err: string } {
  const o = { out: '', err: '' } as Output & { out: string; err: string };
  o.stdout = (t) => void (o.out += t);
  o.log = (t) => void (o.err += `${t}\n`);
  return o;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-report-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

async function savedReport(name: string, url: string): Promise<string> {
  const f = path.join(dir, name);
  expect(await main(['conformance', '--url', url, '--only', 'RA1,B1', '--report', f], capture())).toBe(0);
  return f;
}

describe('cli report', () => {
  test('cli report - merges saved reports, and a merged JSON array, into one matrix', async () => {
    const a = await savedReport('a.json', 'memory://report-a');
    const b = await savedReport('b.json', 'memory://report-b');
    const merged = path.join(dir, 'ab.json');
    expect(await main(['report', a, b, '--out', merged], capture())).toBe(0);
    expect(JSON.parse(fs.readFileSync(merged, 'utf8'))).toHaveLength(2);
    const md = path.join(dir, 'abc.md');
    const o = capture();
    expect(await main(['report', merged, a, '--out', md], o)).toBe(0);
    expect(o.err).toBe(`wrote ${md}\n`);
    expect(fs.readFileSync(md, 'utf8')).toMatch(/^\| Case \| memory \| memory \| memory \|$/m);
  });

  const bad: [string, () => string, RegExp][] = [
    ['a missing file', () => path.join(dir, 'nope.json'), /^switchboard report: not_found error: cannot read \S+nope\.json: no such file$/],
    ['a folder', () => dir, /^switchboard report: not_found error: cannot read \S+: it is a folder$/],
    ['a file that is not JSON', () => file('bad.json', '{"backend": "kafka", '), /^switchboard report: invalid_argument error: \S+bad\.json is not JSON \(.+\); give the file switchboard conformance --report FILE\.json wrote$/],
    ['JSON that is not a report', () => file('other.json', '{"name": "x", "version": "1.0.0"}'), /^switchboard report: invalid_argument error: \S+other\.json is not a conformance report/],
    ['an empty array', () => file('empty.json', '[]'), /is not a conformance report/],
    ['a report with a malformed result', () => file('half.json', JSON.stringify({ backend: 'x', results: [{ id: 'RA1', status: 'maybe' }], summary: { passed: 0, failed: 0, unsupported: 0 } })), /half\.json is not a conformance report/],
  ];
  test.each(bad)('cli report - %s is one clear line, not a stack trace, and exit 2', async (_what, make, message) => {
    const o = capture();
    const out = path.join(dir, 'never.md');
    expect(await main(['report', make(), '--out', out], o)).toBe(2);
    expect(o.out).toBe('');
    expect(o.err.trimEnd().split('\n')).toHaveLength(1);
    expect(o.err.trimEnd()).toMatch(message);
    expect(o.err).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(out)).toBe(false);
  });

  test('cli report - an --out in a folder that does not exist is one line and exit 2', async () => {
    const a = await savedReport('c.json', 'memory://report-c');
    const o = capture();
    const out = path.join(dir, 'no-such-folder', 'm.md');
    expect(await main(['report', a, '--out', out], o)).toBe(2);
    expect(o.err.trimEnd()).toBe(`switchboard report: invalid_argument error: cannot write ${out}: its folder does not exist`);
  });

  test('cli report - readReportFile throws typed errors', () => {
    expect(() => readReportFile(path.join(dir, 'nope.json'))).toThrow(expect.objectContaining({ code: 'not_found' }));
    let thrown: unknown;
    try {
      readReportFile(file('bad2.json', 'not json'));
    } catch (err) {
      thrown = err;
    }
    expect(SwitchboardError.is(thrown, 'invalid_argument')).toBe(true);
  });
});
