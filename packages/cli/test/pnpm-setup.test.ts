import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const repo = path.resolve(__dirname, '../../..');

/** Runs the repo's pnpm (on PATH: .tools/bin under scripts/dev) in the repo root. */
function pnpm(args: string[]) {
  const r = spawnSync('pnpm', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, npm_config_manage_package_manager_versions: 'false' }, timeout: 60_000 });
  if (r.error) throw new Error(`pnpm could not run (${r.error.message}); run the tests through ./scripts/dev`);
  return { code: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}

/** A list setting as pnpm reads it (from pnpm-workspace.yaml, .npmrc, package.json "pnpm"). */
function configList(name: string): string[] {
  const text = pnpm(['config', 'get', name, '--json']).stdout.trim();
  const value: unknown = text === '' || text === 'undefined' ? [] : JSON.parse(text);
  expect(Array.isArray(value)).toBe(true);
  return value as string[];
}

/** Installed packages that have an install script (preinstall, install, postinstall, or a binding.gyp pnpm would build). */
function packagesWithBuildScripts(): string[] {
  const store = path.join(repo, 'node_modules/.pnpm');
  const names = new Set<string>();
  for (const entry of fs.readdirSync(store)) {
    const modules = path.join(store, entry, 'node_modules');
    if (!fs.existsSync(modules)) continue;
    for (const top of fs.readdirSync(modules)) {
      for (const name of top.startsWith('@') ? fs.readdirSync(path.join(modules, top)).map((n) => `${top}/${n}`) : [top]) {
        const dir = path.join(modules, name);
        const manifest = path.join(dir, 'package.json');
        if (fs.lstatSync(dir).isSymbolicLink() || !fs.existsSync(manifest)) continue;
        const scripts = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
        if (scripts.preinstall || scripts.install || scripts.postinstall || fs.existsSync(path.join(dir, 'binding.gyp'))) names.add(name);
      }
    }
  }
  return [...names].sort();
}

describe('pnpm set-up', () => {
  test('pnpm set-up - .npmrc hides no pnpm output: an error reaches the user', () => {
    const npmrc = fs.readFileSync(path.join(repo, '.npmrc'), 'utf8');
    expect(npmrc).not.toMatch(/^\s*(reporter\s*=\s*silent|loglevel\s*=\s*silent|silent\s*=\s*true)/m);
    const r = pnpm(['no-such-script-in-this-repo']);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/ERR_PNPM_\w+.*no-such-script-in-this-repo/);
  });

  test('pnpm set-up - every dependency with an install script is approved or ignored on purpose, once', () => {
    const approved = configList('onlyBuiltDependencies');
    const ignored = configList('ignoredBuiltDependencies');
    expect(approved.filter((n) => ignored.includes(n))).toEqual([]);
    const withScripts = packagesWithBuildScripts();
    expect(withScripts.length).toBeGreaterThan(0);
    // Nothing left for pnpm to warn about ("Ignored build scripts: ..."), and no entry for a package that is gone.
    expect(withScripts.filter((n) => !approved.includes(n) && !ignored.includes(n))).toEqual([]);
    expect([...approved, ...ignored].filter((n) => !withScripts.includes(n))).toEqual([]);
  });
});

describe('pnpm set-up - the switchboard bin', () => {
  test('pnpm set-up - the bin is a committed file, so a fresh install links it before any build', () => {
    const dir = path.join(__dirname, '..');
    const pkg = JSON.parse(fs.readFileSync(`${dir}/package.json`, 'utf8')) as { bin: Record<string, string>; files: string[] };
    const bin = pkg.bin.switchboard!;
    expect(bin.startsWith('./dist/')).toBe(false);
    expect(fs.existsSync(`${dir}/${bin}`)).toBe(true);
    expect(pkg.files).toContain(bin.replace(/^\.\//, '').split('/')[0]);
    expect(fs.readFileSync(`${dir}/${bin}`, 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});
