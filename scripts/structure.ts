/**
 * The structure of the source tree, from its import statements: files per
 * folder, file-level and folder-level cycles (type-only imports included),
 * the imports that keep each folder cycle closed, the server's imports of the
 * SDK's sources, and imports of another domain's store.
 *
 *   npm run structure            # the report
 *   npm run structure -- --json  # the same figures as JSON
 *
 * A folder is a domain: `server/<name>/` (files directly in `server/` are the
 * each their own), the SDK's concerns `sdk/src/<name>/` (its entry files each
 * their own), `protocol`, `clients/<name>`. Imports are read
 * with a regular expression (`import … from`, `export … from`, `import()`),
 * relative specifiers only; package names (`@rollcall/protocol`) are mapped
 * to their workspace folder.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const SOURCES = ['server', 'sdk', 'protocol', 'clients'];
const SKIP = new Set(['node_modules', 'dist', 'coverage']);
const EXT = /\.(ts|tsx|js|mjs)$/;
const WORKSPACES: Record<string, string> = { '@rollcall/sdk': 'sdk', '@rollcall/protocol': 'protocol' };

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name) || name.startsWith('.')) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : EXT.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The folder (domain) a file belongs to. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'server') return parts.length > 2 ? `server/${parts[1]}` : file;
  if (parts[0] === 'sdk' && parts[1] === 'src') return parts.length > 3 ? `sdk/src/${parts[2]}` : file;
  if (parts[0] === 'clients') return `clients/${parts[1]}`;
  return parts[0]!;
}

const IMPORT = /(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function resolveImport(file: string, spec: string, files: Set<string>): string | null {
  let target: string;
  if (spec.startsWith('.')) target = relative(ROOT, resolve(ROOT, dirname(file), spec));
  else {
    const pkg = Object.keys(WORKSPACES).find((name) => spec === name || spec.startsWith(`${name}/`));
    if (pkg === undefined) return null;
    target = join(WORKSPACES[pkg]!, spec.slice(pkg.length));
  }
  for (const candidate of [target, `${target}.ts`, `${target}.tsx`, target.replace(/\.js$/, '.ts'), join(target, 'index.ts'), join(target, 'src/index.ts')]) if (files.has(candidate)) return candidate;
  return null;
}

/** Strips comments so that an import named in prose is not read as one. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

export function readEdges(): { files: string[]; edges: Edge[] } {
  const files = SOURCES.flatMap((s) => filesUnder(join(ROOT, s))).map((f) => relative(ROOT, f));
  const known = new Set(files);
  const edges: Edge[] = [];
  for (const file of files) {
    for (const m of code(readFileSync(join(ROOT, file), 'utf8')).matchAll(IMPORT)) {
      const to = resolveImport(file, m[2] ?? m[3]!, known);
      if (to !== null && to !== file) edges.push({ from: file, to, typeOnly: m[1] !== undefined });
    }
  }
  return { files, edges };
}

/** Strongly connected components with more than one node (Tarjan). */
export function cycles(nodes: string[], next: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return out;
}

function graph(edges: { from: string; to: string }[]): Map<string, Set<string>> {
  const next = new Map<string, Set<string>>();
  for (const e of edges) if (e.from !== e.to) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
  return next;
}

function tally(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

export function structure() {
  const { files, edges } = readEdges();
  const perFolder = new Map<string, number>();
  for (const f of files) perFolder.set(folderOf(f), (perFolder.get(folderOf(f)) ?? 0) + 1);
  const fileCycles = cycles(files, graph(edges));
  const folderEdges = edges.map((e) => ({ ...e, fromFolder: folderOf(e.from), toFolder: folderOf(e.to) })).filter((e) => e.fromFolder !== e.toFolder);
  const folders = [...perFolder.keys()];
  const folderCycles = cycles(folders, graph(folderEdges.map((e) => ({ from: e.fromFolder, to: e.toFolder }))));
  const inCycle = new Map(folderCycles.flatMap((c, i) => c.map((f) => [f, i] as const)));
  const closing = folderEdges.filter((e) => inCycle.has(e.fromFolder) && inCycle.get(e.fromFolder) === inCycle.get(e.toFolder));
  const serverToSdk = edges.filter((e) => e.from.startsWith('server/') && e.to.startsWith('sdk/'));
  const sdkToServer = edges.filter((e) => e.from.startsWith('sdk/') && e.to.startsWith('server/'));
  const foreignStores = folderEdges.filter((e) => /\/store\.ts$/.test(e.to) && e.fromFolder.startsWith('server/') && e.toFolder.startsWith('server/'));
  return {
    files: files.length,
    imports: edges.length,
    filesPerFolder: Object.fromEntries([...perFolder].sort((a, b) => b[1] - a[1])),
    fileCycles,
    folderCycles,
    folderCycleImports: closing.map((e) => `${e.from} → ${e.to}${e.typeOnly ? ' (type)' : ''}`),
    serverImportsOfSdkSources: serverToSdk.length,
    serverImportsOfSdkSourcesByFile: tally(serverToSdk.map((e) => e.to)),
    sdkImportsOfServer: sdkToServer.length,
    importsOfAnotherDomainsStore: foreignStores.map((e) => `${e.from} → ${e.to}${e.typeOnly ? ' (type)' : ''}`),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const s = structure();
  if (process.argv.includes('--json')) console.log(JSON.stringify(s, null, 2));
  else {
    console.log(`${s.files} source files, ${s.imports} imports between them`);
    console.log(`file cycles: ${s.fileCycles.length}${s.fileCycles.map((c) => `\n  ${c.join(' ↔ ')}`).join('')}`);
    console.log(`folder cycles: ${s.folderCycles.length}${s.folderCycles.map((c) => `\n  ${c.join(' ↔ ')}`).join('')}`);
    console.log(`imports closing a folder cycle: ${s.folderCycleImports.length}${s.folderCycleImports.map((e) => `\n  ${e}`).join('')}`);
    console.log(`server imports of the SDK's sources: ${s.serverImportsOfSdkSources}${Object.entries(s.serverImportsOfSdkSourcesByFile).map(([f, n]) => `\n  ${f} ${n}`).join('')}`);
    console.log(`SDK imports of the server: ${s.sdkImportsOfServer}`);
    console.log(`imports of another domain's store: ${s.importsOfAnotherDomainsStore.length}${s.importsOfAnotherDomainsStore.map((e) => `\n  ${e}`).join('')}`);
    console.log(`files per folder: ${Object.entries(s.filesPerFolder).map(([f, n]) => `${f} ${n}`).join(', ')}`);
  }
}
