// The published packages as an application gets them: each packages/* is packed with `pnpm pack`
// (workspace:* becomes the real version), the tarballs are installed with npm into one scratch app
// in the system temp folder, outside the workspace, and the app then
// - loads every entry of every package both with `import` (ESM) and `require` (CommonJS),
// - runs the root README's memory:// example and the package READMEs' memory:// examples as ES
//   modules and as CommonJS scripts,
// - typechecks the TypeScript blocks of the package READMEs against the installed types,
// - runs the installed `switchboard` bin.
// It also checks what each tarball holds: LICENSE, README, dist for both formats, and source maps
// whose sources are inside the package. No broker: everything runs on memory://.
// Needs `pnpm build` (turbo runs it first) and the npm registry for the third-party dependencies.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.join(__dirname, '../..');
const PACKAGES = path.join(ROOT, 'packages');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
}

const packageDirs = fs
  .readdirSync(PACKAGES)
  .map((d) => path.join(PACKAGES, d))
  .filter((d) => fs.existsSync(path.join(d, 'package.json')));
const manifests = new Map(packageDirs.map((d) => [d, JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')) as Manifest]));
const publishable = packageDirs.filter((d) => !manifests.get(d)!.private);
/** This package's dependencies: turbo builds them before this test runs, so they can be packed. */
const ownDeps = (JSON.parse(fs.readFileSync(path.join(__dirname, '../package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies;
const published = publishable.filter((d) => manifests.get(d)!.name in ownDeps);

/** Every import specifier a package's exports map offers (`@switchboard/core`, `@switchboard/core/driver`, ...). */
function entries(m: Manifest): string[] {
  return Object.keys(m.exports ?? { '.': {} })
    .filter((k) => k !== './package.json')
    .map((k) => (k === '.' ? m.name : `${m.name}/${k.slice(2)}`));
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false' };
  // The README example picks its URL from SWITCHBOARD_URL: it must run on memory:// here.
  delete env.SWITCHBOARD_URL;
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} in ${cwd} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** The ```ts blocks of a markdown text. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** A module's text as a CommonJS script: its imports become requires, the rest runs in an async function. */
function asCommonJs(code: string): string {
  const imports: string[] = [];
  const body = code.replace(/^import (?:(\{[^}]*\}) from )?'([^']+)';/gm, (_, names: string | undefined, from: string) => {
    imports.push(names ? `const ${names.replace(/ as /g, ': ')} = require('${from}');` : `require('${from}');`);
    return '';
  });
  return `${imports.join('\n')}\n(async () => {\n${body}\n})().catch((err) => { console.error(err); process.exitCode = 1; });\n`;
}

let app: string;
const tarballs = new Map<string, string>();

beforeAll(async () => {
  app = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pack-')));
  const packs = path.join(app, 'tarballs');
  fs.mkdirSync(packs);
  for (const dir of published) {
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', packs], dir, 120_000);
    const file = stdout.trim().split('\n').pop()!.trim();
    tarballs.set(manifests.get(dir)!.name, path.isAbsolute(file) ? file : path.join(packs, path.basename(file)));
  }
  // Each package from its tarball, also where another package depends on it (overrides), never
  // from the registry.
  const deps = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${path.relative(app, file)}`]));
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true, dependencies: deps, overrides: Object.fromEntries(Object.keys(deps).map((n) => [n, `$${n}`])) }, null, 2),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], app, 600_000);
}, 900_000);

afterAll(() => {
  if (app) fs.rmSync(app, { recursive: true, force: true });
});

const installed = (name: string): string => path.join(app, 'node_modules', name);

test('packaging - every package in packages/ is a dependency of integration-tests, so it is built, packed and checked here', () => {
  expect(publishable.length).toBeGreaterThanOrEqual(10);
  expect(publishable.map((d) => manifests.get(d)!.name).filter((n) => !(n in ownDeps))).toEqual([]);
});

test('packaging - every published package is packed and installed from its tarball, outside the workspace', () => {
  expect(published.length).toBeGreaterThanOrEqual(10);
  for (const dir of published) {
    const m = manifests.get(dir)!;
    const at = installed(m.name);
    // A real folder from the tarball, not a link back into the workspace.
    expect({ name: m.name, link: fs.lstatSync(at).isSymbolicLink() }).toEqual({ name: m.name, link: false });
    expect(path.relative(ROOT, fs.realpathSync(at)).startsWith('..')).toBe(true);
    expect((JSON.parse(fs.readFileSync(path.join(at, 'package.json'), 'utf8')) as Manifest).version).toBe(m.version);
  }
});

test('packaging - each tarball holds the root LICENSE, a README, and dist in both formats', () => {
  const license = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
  expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} Switchboard contributors\n/);
  for (const dir of published) {
    const m = manifests.get(dir)!;
    const at = installed(m.name);
    expect({ name: m.name, license: m.license, text: fs.readFileSync(path.join(at, 'LICENSE'), 'utf8') === license }).toEqual({ name: m.name, license: 'MIT', text: true });
    expect(fs.readFileSync(path.join(at, 'README.md'), 'utf8')).toContain(`# ${m.name}`);
    for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts', 'src/index.ts']) {
      expect({ name: m.name, file: f, there: fs.existsSync(path.join(at, f)) }).toEqual({ name: m.name, file: f, there: true });
    }
  }
});

test('packaging - every source map in the tarballs points at sources that are in the package', () => {
  let maps = 0;
  for (const dir of published) {
    const at = installed(manifests.get(dir)!.name);
    const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    for (const file of walk(path.join(at, 'dist')).filter((f) => f.endsWith('.map'))) {
      maps++;
      const map = JSON.parse(fs.readFileSync(file, 'utf8')) as { sources: string[] };
      for (const source of map.sources) {
        const target = path.resolve(path.dirname(file), source);
        expect({ map: path.relative(app, file), source, inPackage: target.startsWith(at + path.sep) && fs.existsSync(target) }).toEqual({
          map: path.relative(app, file),
          source,
          inPackage: true,
        });
      }
    }
  }
  expect(maps).toBeGreaterThan(100);
});

test('packaging - every entry of every package loads with import (ESM) and with require (CommonJS)', async () => {
  const specifiers = published.flatMap((d) => entries(manifests.get(d)!));
  expect(specifiers).toEqual(expect.arrayContaining(['@switchboard/core', '@switchboard/core/driver', '@switchboard/memory/testing', '@switchboard/cli']));
  fs.writeFileSync(
    path.join(app, 'load-all.mjs'),
    `const out = {};\nfor (const s of ${JSON.stringify(specifiers)}) out[s] = { file: import.meta.resolve(s), names: Object.keys(await import(s)).sort() };\nconsole.log(JSON.stringify(out));\n`,
  );
  fs.writeFileSync(path.join(app, 'load-all.cjs'), `const out = {};\nfor (const s of ${JSON.stringify(specifiers)}) out[s] = { file: require.resolve(s), names: Object.keys(require(s)).sort() };\nconsole.log(JSON.stringify(out));\n`);
  type Loaded = Record<string, { file: string; names: string[] }>;
  const esm = JSON.parse((await run(process.execPath, ['load-all.mjs'], app, 120_000)).stdout) as Loaded;
  const cjs = JSON.parse((await run(process.execPath, ['load-all.cjs'], app, 120_000)).stdout) as Loaded;
  const named = (keys: string[]) => keys.filter((k) => k !== 'default' && k !== '__esModule' && k !== 'module.exports');
  for (const s of specifiers) {
    // import gets the ES module build, require the CommonJS build, both from the installed package...
    expect({ s, esm: esm[s]!.file.endsWith('.mjs'), cjs: cjs[s]!.file.endsWith('.js') }).toEqual({ s, esm: true, cjs: true });
    expect(esm[s]!.file).toContain(`file://${installed(s.split('/').slice(0, 2).join('/'))}/dist/`);
    // ...and both export the same names.
    expect({ s, esm: named(esm[s]!.names) }).toEqual({ s, esm: named(cjs[s]!.names) });
  }
  expect(esm['@switchboard/core']!.names).toEqual(expect.arrayContaining(['connect', 'SwitchboardError']));
  expect(esm['@switchboard/core/driver']!.names).toEqual(expect.arrayContaining(['defineDriver']));
  expect(esm['@switchboard/memory']!.names).toEqual(expect.arrayContaining(['driver']));
}, 240_000);

/**
 * Runs a README's TypeScript block in the scratch app, as an ES module (`import`) or as a CommonJS
 * script (`require`), its types stripped as a user's build would. Resolves with its stdout; rejects
 * when it exits with an error or writes to stderr.
 */
async function runBlock(code: string, file: string, format: 'esm' | 'cjs'): Promise<string> {
  const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.ESNext } }).outputText;
  fs.writeFileSync(path.join(app, file), format === 'esm' ? js : asCommonJs(js));
  const { stdout, stderr } = await run(process.execPath, [file], app, 120_000);
  expect({ file, stderr }).toEqual({ file, stderr: '' });
  return stdout;
}

/** What a block says it prints: the `// text` comments after its console.log calls. */
const promisedOutput = (code: string): string[] => [...code.matchAll(/console\.log\(.*\); \/\/ (.+)$/gm)].map((m) => m[1]!);

const FORMATS = [
  ['ESM (import)', 'esm'],
  ['CommonJS (require)', 'cjs'],
] as const;

describe('packaging - the root README memory:// example runs in the installed app', () => {
  const example = tsBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).find((b) => b.includes("'memory://'") && b.includes('consume('));

  test.each(FORMATS)('%s', async (_, format) => {
    expect(example).toBeDefined();
    // It connects by URL alone: memory:// is found as the installed @switchboard/memory package.
    const stdout = await runBlock(example!, `root-readme.${format === 'esm' ? 'mjs' : 'cjs'}`, format);
    // The handler ran before the worker closed: the example shows a delivery, not just a clean exit.
    expect(stdout).toMatch(/^order \S+ \{"sku":"A-1"\} attempt 1$/m);
  }, 120_000);
});

describe('packaging - the package README examples on memory:// run in the installed app and print what they say', () => {
  const examples = published.flatMap((dir) => {
    const m = manifests.get(dir)!;
    return tsBlocks(fs.readFileSync(path.join(dir, 'README.md'), 'utf8'))
      .filter((code) => code.includes("memory://"))
      .map((code, i) => ({ name: `${m.name} #${i + 1}`, file: `${m.name.split('/').pop()}-readme-${i + 1}`, code }));
  });

  test('the READMEs of core, memory, conformance, bench and soak have one', () => {
    expect(examples.map((e) => e.name)).toEqual(
      expect.arrayContaining(['@switchboard/core #1', '@switchboard/memory #1', '@switchboard/conformance #1', '@switchboard/bench #1', '@switchboard/soak #1']),
    );
  });

  test.each(examples.flatMap((e) => FORMATS.map(([label, format]) => [`${e.name} ${label}`, e, format] as const)))('%s', async (_, e, format) => {
    const stdout = await runBlock(e.code, `${e.file}.${format === 'esm' ? 'mjs' : 'cjs'}`, format);
    expect(stdout.length).toBeGreaterThan(0);
    for (const line of promisedOutput(e.code)) expect(stdout.split('\n')).toContain(line);
  }, 120_000);
});

test('packaging - the TypeScript blocks of the package READMEs typecheck against the installed packages', () => {
  const files: string[] = [];
  for (const dir of published) {
    const m = manifests.get(dir)!;
    tsBlocks(fs.readFileSync(path.join(installed(m.name), 'README.md'), 'utf8')).forEach((code, i) => {
      const file = path.join(app, 'readme-check', `${m.name.split('/').pop()}-${i + 1}.mts`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, `${code}\nexport {};\n`);
      files.push(file);
    });
  }
  expect(files.length).toBeGreaterThanOrEqual(6);
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2023,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [path.join(ROOT, 'node_modules/@types')],
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
  expect(problems).toEqual([]);
}, 120_000);

test('packaging - the installed switchboard bin runs', async () => {
  const { stdout } = await run(path.join(app, 'node_modules/.bin/switchboard'), ['--help'], app, 60_000);
  expect(stdout).toMatch(/^Usage: switchboard <command>/m);
});
