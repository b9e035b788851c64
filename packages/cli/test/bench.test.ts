import { main, type Output } from '@switchboard/cli';

function capture(): Output & { out: string; err: string } {
  const o = { out: '', err: '' } as Output & { out: string; err: string };
  o.stdout = (t) => void (o.out += t);
  o.log = (t) => void (o.err += `${t}\n`);
  return o;
}

describe('cli bench', () => {
  test('cli bench - --json on memory:// prints one JSON report with Switchboard numbers and n/a ratios', async () => {
    const o = capture();
    const code = await main(['bench', '--url', 'memory://cli-bench', '--messages', '300', '--size', '64', '--repeat', '2', '--json'], o);
    expect(o.err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(o.out);
    expect(report.ok).toBe(true);
    expect(report.params).toMatchObject({ messages: 300, size: 64, repeat: 2 });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.results).toHaveLength(1);
    const [r] = report.results;
    expect(r).toMatchObject({ backend: 'memory', url: 'memory://cli-bench', raw: null, errors: [] });
    expect(r.ratios).toEqual({ publishRate: null, endToEndRate: null, heapDelta: null, rssPeak: null });
    expect(r.switchboard.client).toBe('switchboard');
    expect(r.switchboard.runs).toHaveLength(2);
    for (const key of ['wallMs', 'publishRate', 'endToEndRate', 'p50Ms', 'p99Ms', 'rssPeak', 'heapDelta']) {
      expect(typeof r.switchboard.summary[key]).toBe('number');
    }
    expect(r.switchboard.runs[0].messages).toBe(300);
    expect(r.switchboard.runs[0].duplicates).toBe(0);
  });

  test('cli bench - usage errors exit 2', async () => {
    for (const args of [['bench', '--messages', '0'], ['bench', '--size', '8'], ['bench', '--repeat', 'x'], ['bench', '--out', 'x.txt'], ['bench', '--url', 'nourl'], ['bench', '--nope']]) {
      const o = capture();
      expect(await main(args, o)).toBe(2);
      expect(o.err).toMatch(/switchboard:/);
      expect(o.out).toBe('');
    }
  });
});
