// Every TypeScript block in the root README typechecks against the real packages: each block is
// written out as its own module (relative imports such as './pricing-service' point at
// examples/src) and checked with the TypeScript compiler, so a README example cannot drift from
// the API.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const README = path.join(__dirname, '../../README.md');
const SRC = path.join(__dirname, '../src');

/** The ```ts blocks of a markdown text, with the line each starts on. */
export function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const re = /^```ts\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    blocks.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[1]! });
  }
  return blocks;
}

/** Type errors of `files` compiled as an application would (strict, the real packages). */
export function typeErrors(files: string[]): string[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2023,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noUncheckedIndexedAccess: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node', 'jest'],
    typeRoots: [path.join(__dirname, '../../node_modules/@types')],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

test('readme - every TypeScript block in README.md typechecks', () => {
  const blocks = tsBlocks(fs.readFileSync(README, 'utf8'));
  expect(blocks.length).toBeGreaterThanOrEqual(5);
  // Inside examples/, so the blocks resolve @switchboard/*, zod and the types as an app would.
  const dir = fs.mkdtempSync(path.join(__dirname, '../.readme-check-'));
  try {
    const files = blocks.map((b) => {
      const file = path.join(dir, `readme-line-${b.line}.ts`);
      const code = b.code.replace(/from '\.\/([^']+)'/g, (_, p: string) => `from '${path.join(SRC, p).split(path.sep).join('/')}'`);
      fs.writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const problems = typeErrors(files);
    expect(problems).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test('readme - connect options are typed per backend: a misspelt or misplaced option is a type error', () => {
  const dir = fs.mkdtempSync(path.join(__dirname, '../.readme-check-'));
  try {
    const file = path.join(dir, 'connect-options.ts');
    fs.writeFileSync(
      file,
      [
        "import { connect } from '@switchboard/core';",
        "import '@switchboard/kafka';",
        "import '@switchboard/memory';",
        "import '@switchboard/nats';",
        "import '@switchboard/rabbitmq';",
        "import '@switchboard/sqs';",
        '// One options object for every backend the app may run on; the URL picks.',
        "await connect('memory://', { connectTimeoutMs: 5000, kafka: { clientId: 'app' }, rabbitmq: { heartbeat: 5 }, nats: { name: 'app' }, sqs: { region: 'eu-west-1' }, memory: { maxMessageBytes: 1024 } });",
        '// @ts-expect-error: misspelt common option',
        "await connect('memory://', { conectTimeoutMs: 5000 });",
        '// @ts-expect-error: a backend option must go under its backend name',
        "await connect('memory://', { clientId: 'app' });",
        '// @ts-expect-error: misspelt backend option',
        "await connect('memory://', { kafka: { clientID: 'app' } });",
        '// @ts-expect-error: wrong type',
        "await connect('memory://', { memory: { maxMessageBytes: '1k' } });",
        'export {};',
        '',
      ].join('\n'),
    );
    expect(typeErrors([file])).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

/** `text` with every line's leading whitespace removed, for comparing code at another indentation. */
const flat = (text: string): string => text.split('\n').map((l) => l.trimStart()).join('\n');

test('readme - the service and testing examples are the ones the examples run', () => {
  const blocks = tsBlocks(fs.readFileSync(README, 'utf8')).map((b) => b.code);
  const service = blocks.find((b) => b.includes("process.once('SIGTERM'"));
  const testing = blocks.find((b) => b.includes('runPricingDemo'));
  expect(service).toBeDefined();
  expect(testing).toBeDefined();
  // The shutdown sequence, from the keep-alive to the close, is pricing-service.ts's own: its lines
  // come in the same order there (the example prints a line of its own in between).
  const shutdown = service!.slice(service!.indexOf('// Keeps the process alive'), service!.indexOf('console.log(`closed'));
  const source = flat(fs.readFileSync(path.join(SRC, 'pricing-service.ts'), 'utf8'));
  let at = 0;
  for (const line of flat(shutdown).split('\n').filter((l) => l.length > 0)) {
    const found = source.indexOf(`${line}\n`, at);
    expect({ line, found: found >= 0 }).toEqual({ line, found: true });
    at = found + line.length;
  }
  // The test is in examples/test/pricing-service.test.ts as it is.
  const body = testing!.slice(testing!.indexOf('test('));
  expect(flat(fs.readFileSync(path.join(__dirname, 'pricing-service.test.ts'), 'utf8'))).toContain(flat(body).trimEnd());
});
