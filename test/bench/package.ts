/**
 * The SDK as a service installs it, beside the anchors measured the same way:
 * the tarball npm would publish, the packages and bytes an install brings in
 * (the package and its runtime dependencies, transitively), and the time to
 * import the entry in a fresh `node` process (median of interleaved runs, so
 * a busy moment on the machine falls on all three alike).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/server-process.ts';
import { median, progress } from './stats.ts';

const PACKAGES = { rollcall: '@rollcall/sdk', unleash: 'unleash-client', growthbook: '@growthbook/growthbook' } as const;
type Name = keyof typeof PACKAGES;

export interface PackageFigures {
  packed_kb: number;
  packages: number;
  installed_kb: number;
  import_ms: number;
}

/** What `npm pack` of the folder would write: the tarball's bytes and its content's. */
function pack(dir: string): { size: number; unpackedSize: number } {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', dir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (JSON.parse(out) as { size: number; unpackedSize: number }[])[0]!;
}

/** The folder node would load `name` from, starting at `from`. */
function packageDir(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed (looked from ${from})`);
  }
}

/** The bytes of a package's own files (its nested node_modules are packages of their own). */
function bytesOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') total += bytesOf(join(dir, entry.name));
    } else if (entry.isFile()) total += statSync(join(dir, entry.name)).size;
  }
  return total;
}

/** The package and every runtime dependency it brings, as installed here. */
function installClosure(name: string): { packages: number; bytes: number } {
  const seen = new Set<string>();
  let bytes = 0;
  const visit = (dependency: string, from: string) => {
    const dir = packageDir(dependency, from);
    if (seen.has(dir)) return;
    seen.add(dir);
    bytes += bytesOf(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const next of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) {
      try {
        visit(next, dir);
      } catch {
        // an optional dependency for another platform is not installed here
      }
    }
  };
  visit(name, ROOT);
  return { packages: seen.size, bytes };
}

/**
 * The CPU time (user + system) of importing the entry in a fresh process, once
 * the ESM loader itself is warm (a first import of an empty file module pays
 * for that, the same for every package): CPU time is what the import costs the
 * service, and unlike wall time it does not swing with other load on two
 * shared cores.
 */
function importMs(specifier: string, warmUp: string): number {
  const script = [
    `await import(${JSON.stringify(pathToFileURL(warmUp).href)});`,
    `const before = process.cpuUsage();`,
    `await import(${JSON.stringify(specifier)});`,
    `const spent = process.cpuUsage(before);`,
    `process.stdout.write(String((spent.user + spent.system) / 1000));`,
  ].join(' ');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`importing ${specifier} failed: ${run.stderr}`);
  return Number(run.stdout);
}

export function measurePackages(options: { imports: number }): Record<Name, PackageFigures> {
  progress('packing and sizing @rollcall/sdk, unleash-client and @growthbook/growthbook');
  const sizes = {} as Record<Name, Omit<PackageFigures, 'import_ms'>>;
  for (const [name, specifier] of Object.entries(PACKAGES) as [Name, string][]) {
    if (name === 'rollcall') {
      // What a service gets is the tarball's content, not the workspace folder (sources, build tools).
      const packed = pack(join(ROOT, 'sdk'));
      const manifest = JSON.parse(readFileSync(join(ROOT, 'sdk', 'package.json'), 'utf8'));
      const dependencies = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies });
      sizes.rollcall = { packed_kb: packed.size / 1000, packages: 1 + dependencies.length, installed_kb: packed.unpackedSize / 1000 };
    } else {
      const closure = installClosure(specifier);
      sizes[name] = { packed_kb: pack(packageDir(specifier, ROOT)).size / 1000, packages: closure.packages, installed_kb: closure.bytes / 1000 };
    }
  }

  const imports: Record<Name, number[]> = { rollcall: [], unleash: [], growthbook: [] };
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-import-'));
  const warmUp = join(dir, 'empty.mjs');
  writeFileSync(warmUp, 'export default 0;\n');
  try {
    for (let i = 0; i < options.imports; i++) {
      progress(`cold import round ${i + 1}/${options.imports}`);
      for (const [name, specifier] of Object.entries(PACKAGES) as [Name, string][]) imports[name].push(importMs(specifier, warmUp));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const figures = {} as Record<Name, PackageFigures>;
  for (const name of Object.keys(PACKAGES) as Name[]) figures[name] = { ...sizes[name], import_ms: median(imports[name]) };
  return figures;
}
