import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A V8 CPU profile as `--cpu-prof` writes it (the fields used here). */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
    readonly children?: readonly number[];
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** One function's share of a profile. Times in milliseconds. */
export interface ProfileEntry {
  /** "functionName area/file:line" (source-mapped to the TypeScript source where a map exists). */
  readonly name: string;
  /** Package or runtime area: "@switchboard/core", "kafkajs", "node", "(gc)", "(program)", ... */
  readonly area: string;
  readonly selfMs: number;
  /** Time with this function anywhere on the stack (each sample counted once per function). */
  readonly totalMs: number;
}

/** What a profile says, grouped. */
export interface ProfileSummary {
  /** Sampled time, idle excluded. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Self time per area, largest first. */
  readonly areas: readonly { readonly area: string; readonly selfMs: number }[];
  /** Functions by self time, largest first (at most `top`). */
  readonly topSelf: readonly ProfileEntry[];
  /** `@switchboard/*` functions by self time, largest first (at most `top`). */
  readonly topSwitchboardSelf: readonly ProfileEntry[];
  /** `@switchboard/*` functions by total (inclusive) time, largest first (at most `top`). */
  readonly topSwitchboardTotal: readonly ProfileEntry[];
}

/**
 * The package or runtime area of a script URL: `@switchboard/<pkg>` for the workspace's packages,
 * the package name for anything under node_modules, `node` for built-ins, and V8's own pseudo
 * frames as they are ("(garbage collector)", "(program)", "(idle)").
 */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node';
  const file = url.startsWith('file://') ? url.slice(7) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const ws = /\/packages\/([a-z0-9-]+)\//.exec(file);
  if (ws) return `@switchboard/${ws[1]}`;
  return path.basename(file);
}

const maps = new Map<string, SourceMap | null>();

/** Maps a generated position (0-based) in a workspace `dist/*.js` file to its `src/*.ts` file:line (1-based), when a source map is there. */
function sourcePosition(url: string, line: number, column: number): string | undefined {
  if (!url.startsWith('file://') || url.includes('/node_modules/')) return undefined;
  let file: string;
  try {
    file = fileURLToPath(url);
  } catch {
    return undefined;
  }
  let map = maps.get(file);
  if (map === undefined) {
    map = null;
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  if (!map) return undefined;
  const e = map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
  if (!e || e.originalSource === undefined || e.originalLine === undefined) return undefined;
  const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : path.resolve(path.dirname(file), e.originalSource);
  const pkg = /\/packages\/([a-z0-9-]+)\/(.*)$/.exec(src);
  return `${pkg ? `${pkg[1]}/${pkg[2]}` : path.basename(src)}:${e.originalLine + 1}`;
}

function frameName(cf: CpuProfile['nodes'][number]['callFrame']): string {
  const fn = cf.functionName || '(anonymous)';
  if (!cf.url) return fn;
  const mapped = sourcePosition(cf.url, cf.lineNumber, cf.columnNumber);
  if (mapped) return `${fn} ${mapped}`;
  const file = cf.url.startsWith('file://') ? cf.url.slice(7) : cf.url;
  const nm = file.lastIndexOf('/node_modules/');
  const short = nm >= 0 ? file.slice(nm + '/node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '') : file.replace(/^.*\/packages\//, '');
  return `${fn} ${short}:${cf.lineNumber + 1}`;
}

/**
 * Summarises a CPU profile: sampled time per area and the top functions by self time, overall and
 * within `@switchboard/*` (with their inclusive time). Each sample's time is its `timeDeltas` entry.
 */
export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const parent = new Map<number, number>();
  const byId = new Map<number, CpuProfile['nodes'][number]>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const names = new Map<number, { name: string; area: string }>();
  const info = (id: number) => {
    let v = names.get(id);
    if (!v) {
      const cf = byId.get(id)!.callFrame;
      v = { name: frameName(cf), area: areaOf(cf.url, cf.functionName) };
      names.set(id, v);
    }
    return v;
  };
  const self = new Map<string, { area: string; ms: number }>();
  const total = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (ms <= 0 || !byId.has(id)) continue;
    const { name, area } = info(id);
    if (area === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    const s = self.get(name);
    if (s) s.ms += ms;
    else self.set(name, { area, ms });
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const onStack = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = info(cur);
      if (!f.area.startsWith('@switchboard/') || onStack.has(f.name)) continue;
      onStack.add(f.name);
      total.set(f.name, (total.get(f.name) ?? 0) + ms);
    }
  }
  const entries = [...self.entries()].map(([name, v]) => ({ name, area: v.area, selfMs: v.ms, totalMs: total.get(name) ?? v.ms }));
  entries.sort((a, b) => b.selfMs - a.selfMs);
  const sbTotal = [...total.entries()]
    .map(([name, ms]) => ({ name, area: `@switchboard/${/^\S+ ([a-z0-9-]+)\//.exec(name)?.[1] ?? '?'}`, selfMs: self.get(name)?.ms ?? 0, totalMs: ms }))
    .sort((a, b) => b.totalMs - a.totalMs);
  return {
    busyMs: busy,
    idleMs: idle,
    areas: [...areas.entries()].map(([area, selfMs]) => ({ area, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
    topSelf: entries.slice(0, top),
    topSwitchboardSelf: entries.filter((e) => e.area.startsWith('@switchboard/') && e.area !== '@switchboard/bench').slice(0, top),
    topSwitchboardTotal: sbTotal.filter((e) => e.area !== '@switchboard/bench').slice(0, top),
  };
}

/** A profile summary as Markdown lines (areas, then the top functions). */
export function renderProfileSummary(title: string, s: ProfileSummary): string {
  const pct = (ms: number) => `${((100 * ms) / Math.max(1, s.busyMs)).toFixed(1)} %`;
  const out = [
    `#### ${title}`,
    '',
    `Busy ${Math.round(s.busyMs)} ms sampled (idle ${Math.round(s.idleMs)} ms). Self time by area: ${s.areas
      .slice(0, 10)
      .map((a) => `${a.area} ${pct(a.selfMs)}`)
      .join(', ')}.`,
    '',
    '| top self time | area | self ms | self % |',
    '| --- | --- | ---: | ---: |',
    ...s.topSelf.map((e) => `| \`${e.name}\` | ${e.area} | ${Math.round(e.selfMs)} | ${pct(e.selfMs)} |`),
    '',
    '| Switchboard function | self ms | self % | total ms | total % |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...s.topSwitchboardTotal.map((e) => `| \`${e.name}\` | ${Math.round(e.selfMs)} | ${pct(e.selfMs)} | ${Math.round(e.totalMs)} | ${pct(e.totalMs)} |`),
  ];
  return `${out.join('\n')}\n`;
}
