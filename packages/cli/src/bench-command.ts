import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { listBackends, parseUrl } from '@switchboard/core';
import { MIN_MESSAGE_SIZE, renderMarkdown, renderText, runBench, toJson, type BenchReport } from '@switchboard/bench';
import { type Output, UsageError } from './output';

/** Backend packages of the registry that are installed, for a run's child process to register. */
function installedDriverModules(): string[] {
  return [...new Set(listBackends().map((b) => b.package))].flatMap((pkg) => {
    try {
      return [require.resolve(pkg)];
    } catch {
      return [];
    }
  });
}

/** Defaults of `switchboard bench`. */
export const BENCH_DEFAULTS = { urls: ['memory://'], messages: 20_000, size: 256, repeat: 2 } as const;

export interface BenchArgs {
  urls: string[];
  messages: number;
  size: number;
  repeat: number;
  json: boolean;
  out: string | undefined;
}

function positiveInteger(flag: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer of at least ${min}, got "${value}"`);
  return n;
}

/** Parses the arguments after `bench`; throws {@link UsageError} on anything wrong. */
export function parseBenchArgs(args: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...args],
    options: {
      url: { type: 'string', multiple: true },
      messages: { type: 'string' },
      size: { type: 'string' },
      repeat: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const urls = values.url?.length ? values.url : [...BENCH_DEFAULTS.urls];
  for (const u of urls) {
    try {
      parseUrl(u);
    } catch (err) {
      throw new UsageError(`--url: ${(err as Error).message}`);
    }
  }
  if (values.out !== undefined && !/\.md$/i.test(values.out)) throw new UsageError(`--out ${values.out}: use a .md file name`);
  return {
    urls,
    messages: positiveInteger('--messages', values.messages, BENCH_DEFAULTS.messages),
    size: positiveInteger('--size', values.size, BENCH_DEFAULTS.size, MIN_MESSAGE_SIZE),
    repeat: positiveInteger('--repeat', values.repeat, BENCH_DEFAULTS.repeat),
    json: values.json ?? false,
    out: values.out,
  };
}

/**
 * `switchboard bench`: runs the workload with the raw client and with Switchboard on each URL (each
 * run in its own child process when the CLI runs compiled) and prints a table (or, with `--json`, one JSON document) on stdout; `--out` also writes the table as
 * Markdown. Resolves with 0 when every run succeeded, 1 when any failed. Usage errors are thrown
 * as {@link UsageError} (exit 2 in `main`).
 */
export async function benchCommand(argv: readonly string[], out: Output): Promise<number> {
  const args = parseBenchArgs(argv);
  let report: BenchReport;
  try {
    report = await runBench({
      urls: args.urls,
      messages: args.messages,
      size: args.size,
      repeat: args.repeat,
      isolate: { driverModules: installedDriverModules() },
      onProgress: (line) => (out.progress ? out.progress(`bench: ${line}`) : undefined),
    });
  } finally {
    out.progress?.(undefined);
  }
  for (const r of report.results) for (const e of r.errors) out.log(`${r.backend}: ${e}`);
  out.stdout(`${args.json ? toJson(report) : renderText(report)}\n`);
  if (args.out) {
    fs.writeFileSync(args.out, renderMarkdown(report));
    out.log(`wrote ${args.out}`);
  }
  return report.ok ? 0 : 1;
}
