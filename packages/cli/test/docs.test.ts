import fs from 'node:fs';
import path from 'node:path';
import { COMMANDS } from '@switchboard/cli';

const repo = path.resolve(__dirname, '../../..');
const read = (file: string) => fs.readFileSync(path.join(repo, file), 'utf8');
const flagsOf = (name: string) => Object.keys(COMMANDS.find((c) => c.name === name)!.flags).map((f) => `--${f}`);
const missing = (text: string, flags: string[]) => flags.filter((f) => !new RegExp(`\`${f}[\\s\`]`).test(text));

describe('cli docs', () => {
  test("cli docs - the README's command table names every flag of every command", () => {
    const readme = read('README.md');
    for (const c of COMMANDS) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${c.name}\` |`));
      expect({ command: c.name, row: row !== undefined }).toEqual({ command: c.name, row: true });
      expect({ command: c.name, missing: missing(row!, flagsOf(c.name)) }).toEqual({ command: c.name, missing: [] });
    }
  });

  test('cli docs - the docs pages of conformance, bench and soak name every flag', () => {
    expect(missing(read('docs/conformance.md'), flagsOf('conformance'))).toEqual([]);
    expect(missing(read('docs/benchmarks.md'), flagsOf('bench'))).toEqual([]);
    const soakTable = read('docs/reliability.md')
      .split('\n')
      .filter((l) => l.startsWith('| `--'))
      .join('\n');
    expect(missing(soakTable, flagsOf('soak'))).toEqual([]);
  });

  test('cli docs - no example pipes `pnpm switchboard ... --json` (pnpm prints its banner on stdout first)', () => {
    for (const file of ['README.md', ...fs.readdirSync(path.join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]) {
      const commands = read(file).replace(/\\\n\s*/g, ' ').split('\n');
      expect({ file, bad: commands.filter((l) => /(^|\s)pnpm switchboard .*--json/.test(l)) }).toEqual({ file, bad: [] });
    }
  });
});
