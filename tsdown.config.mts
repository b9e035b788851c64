// The one build of every published package (`tsdown -c ../../tsdown.config.mts` from the package's
// folder): ESM (.mjs, .d.mts) and CommonJS (.js, .d.ts) side by side in dist/, one output file per
// source file (unbundled), so dist/ mirrors src/ as tsc's output did and a file forked by path
// (bench's run-worker.js, conformance's child/crash-consumer.js, the cli's bin.js) stays where it was.
// Source maps point at ../src, which every package ships.
import { defineConfig } from 'tsdown';

// The sources are CommonJS-flavoured: `require`, `require.resolve`, `require.main`, `__dirname` and
// `__filename` appear in them. In the ESM files these names are bound to values made from
// `import.meta.url`, and only when it is there: a bundler that folds these ES modules into a
// CommonJS bundle (esbuild --format=cjs) leaves `import.meta` empty, and there the bundle's own
// `require` and `__filename` are used instead, so loading never throws.
const ESM_GLOBALS = [
  "import { createRequire as __sb_createRequire } from 'node:module';",
  "import { fileURLToPath as __sb_fileURLToPath } from 'node:url';",
  "import { dirname as __sb_dirnameOf } from 'node:path';",
  'const __sb_filename = import.meta.url ? __sb_fileURLToPath(import.meta.url) : __filename;',
  'const __sb_dirname = __sb_dirnameOf(__sb_filename);',
  'const __sb_require = import.meta.url ? __sb_createRequire(import.meta.url) : require;',
].join('\n');

export default defineConfig({
  cwd: process.cwd(),
  entry: ['src/**/*.ts'],
  unbundle: true,
  format: {
    esm: {
      define: { require: '__sb_require', __filename: '__sb_filename', __dirname: '__sb_dirname' },
      banner: { js: ESM_GLOBALS },
      outputOptions: { polyfillRequire: false },
    },
    cjs: {},
  },
  platform: 'node',
  target: 'node22',
  // .mjs for ESM and .js for CommonJS (the packages are "type": "commonjs"): the CommonJS paths
  // (main, bin, forked children) stay those of the tsc build.
  fixedExtension: false,
  sourcemap: true,
  dts: { sourcemap: true },
  tsconfig: 'tsconfig.json',
  outDir: process.env.SB_OUT_DIR ?? 'dist',
  report: false,
  // No clean first: other builds and tests in the same tree read dist/ while a build runs (tsc never
  // emptied it either). A release packs from a fresh clone, where dist/ holds only this build.
  clean: false,
  // The plugin-timing hint (declarations take most of the build) is noise in every build log.
  checks: { pluginTimings: false },
});
