import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, parseConformanceArgs, type Output } from '@switchboard/cli';

function capture(): Output & { out: string; err: string } {
  const o = { out: '', err: '' } as Output & { out: string; err: string };
  o.stdout = (t) => void (o.out += t);
  o.log = (t) => void (o.err += `${t}\n`);
  return o;
}

describe('cli', () => {
  test('cli - conformance --json prints exactly one JSON report and exits 0', async () => {
    const o = capture();
    const code = await main(['conformance', '--url', 'memory://cli-json', '--json', '--only', 'RA1,AL2,B1'], o);
    expect(code).toBe(0);
    const report = JSON.parse(o.out);
    expect(report.backend).toBe('memory');
    expect(report.results.map((r: { id: string }) => r.id)).toEqual(['RA1', 'AL2', 'B1']);
    expect(report.summary).toEqual({ passed: 2, failed: 0, unsupported: 1 });
    expect(report.results[1].reason).toMatch(/crashRedelivery/);
  });

  test('cli - --report writes a Markdown or HTML matrix', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-'));
    const md = path.join(dir, 'm.md');
    const html = path.join(dir, 'm.html');
    expect(await main(['conformance', '--url', 'memory://cli-md', '--only', 'RA1', '--report', md], capture())).toBe(0);
    expect(await main(['conformance', '--url', 'memory://cli-html', '--only', 'RA1', '--report', html], capture())).toBe(0);
    expect(fs.readFileSync(md, 'utf8')).toContain('| RA1 ');
    expect(fs.readFileSync(html, 'utf8')).toContain('<table>');
  });

  test('cli - usage errors exit 2', async () => {
    for (const args of [['conformance', '--nope'], ['conformance', '--only', 'ZZ9'], ['conformance', '--load-count', '-3'], ['frobnicate']]) {
      const o = capture();
      expect(await main(args, o)).toBe(2);
      expect(o.err).toMatch(/^switchboard( \w+)?: .+\nrun 'switchboard( \w+)? --help' for usage\n$/);
      expect(o.out).toBe('');
    }
  });

  test('cli - conformance takes node commands for F6, and refuses half of them', async () => {
    const a = parseConformanceArgs(['--url', 'nats://127.0.0.1:4241', '--kill-command', 'scripts/brokers cluster kill nats {node}', '--start-command', 'scripts/brokers cluster start nats {node}'], {});
    expect(a.nodeCommands).toEqual({ kill: 'scripts/brokers cluster kill nats {node}', start: 'scripts/brokers cluster start nats {node}', nodes: ['1', '2', '3'] });
    expect(parseConformanceArgs([], {}).nodeCommands).toBeUndefined();
    for (const args of [['conformance', '--kill-command', 'k {node}'], ['conformance', '--kill-command', 'k', '--start-command', 's'], ['conformance', '--nodes', '1']]) {
      const o = capture();
      expect(await main(args, o)).toBe(2);
      expect(o.err).toMatch(/--kill-command|--nodes/);
    }
  });

  test('cli - a bad URL exits 2 with a configuration error and no password', async () => {
    const o = capture();
    expect(await main(['conformance', '--url', 'nosuch://u:topsecret@h:1'], o)).toBe(2);
    expect(o.err).toMatch(/^switchboard conformance: configuration error: [^\n]+\n$/);
    expect(o.err).not.toContain('topsecret');
  });
});
