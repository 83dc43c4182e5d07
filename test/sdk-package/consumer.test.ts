/**
 * `@rollcall/sdk` as a service installs it: the built package is packed, the
 * tarball installed into a project outside the repository, and that project
 * runs it with plain `node` (ESM and CommonJS) against a real server and
 * compiles against its declarations with its own `tsc`. `npm test` builds the
 * package before this runs (`npm run build -w @rollcall/sdk`).
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveServer, type LiveServer } from '../helpers/live-server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SDK = join(ROOT, 'sdk');
const FIXTURES = fileURLToPath(new URL('./consumer', import.meta.url));
const VERSION: string = JSON.parse(readFileSync(join(SDK, 'package.json'), 'utf8')).version;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: 90_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const npm = (args: string[], cwd: string) => run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd });

let live: LiveServer;
let consumer: string;
let packed: { filename: string; size: number; files: { path: string }[] };
let installedBeforeLinks: string[];

beforeAll(async () => {
  expect(existsSync(join(SDK, 'dist', 'index.mjs')), 'sdk/dist is missing: run `npm run build -w @rollcall/sdk` (npm test does)').toBe(true);
  consumer = mkdtempSync(join(tmpdir(), 'rollcall-consumer-'));
  expect(relative(ROOT, consumer).startsWith('..')).toBe(true);

  const pack = await npm(['pack', '--json', '--pack-destination', consumer], SDK);
  expect(pack.code, pack.stderr).toBe(0);
  [packed] = JSON.parse(pack.stdout);

  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  cpSync(FIXTURES, consumer, { recursive: true });
  const install = await npm(['install', join(consumer, packed.filename), '--no-audit', '--no-fund', '--prefer-offline'], consumer);
  expect(install.code, install.stderr).toBe(0);
  installedBeforeLinks = listInstalled(join(consumer, 'node_modules'));

  // The OpenFeature subpath needs its optional peer, which a service that uses it installs itself.
  mkdirSync(join(consumer, 'node_modules', '@openfeature'));
  for (const name of ['server-sdk', 'core']) symlinkSync(join(ROOT, 'node_modules', '@openfeature', name), join(consumer, 'node_modules', '@openfeature', name), 'dir');

  live = await startLiveServer();
  for (const key of ['consumer-esm', 'consumer-cjs']) {
    await live.api('POST', '/v1/rollouts', { key, plan: [{ live: 0, shadow: 100 }] });
    await live.api('POST', `/v1/rollouts/${key}/start`);
  }
  await live.api('POST', '/v1/rollouts', { key: 'consumer-of', plan: [{ live: 100 }] });
  await live.api('POST', '/v1/rollouts/consumer-of/start');
}, 120_000);

afterAll(async () => {
  await live?.close();
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

/** Every package folder under node_modules, as `name` or `@scope/name`. */
function listInstalled(modules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) for (const inner of readdirSync(join(modules, entry))) names.push(`${entry}/${inner}`);
    else names.push(entry);
  }
  return names.sort();
}

async function counts(rollout: string) {
  const rows = await live.database.client.execute({
    sql: `SELECT sum(received) received, sum(processed) processed, sum(compared) compared, sum(mismatched) mismatched
          FROM cohort_counts c JOIN rollouts r ON r.id = c.rollout_id WHERE r.key = ?`,
    args: [rollout],
  });
  const row = rows.rows[0]!;
  return { received: Number(row.received), processed: Number(row.processed), compared: Number(row.compared), mismatched: Number(row.mismatched) };
}

describe('the package', () => {
  it('holds only the built files, the README, the changelog, the licence and package.json', () => {
    const paths = packed.files.map((file) => file.path).sort();
    for (const path of paths) expect(path).toMatch(/^(dist\/[\w-]+\.(mjs|cjs|d\.mts|d\.cts)|README\.md|CHANGELOG\.md|LICENSE|package\.json)$/);
    for (const needed of ['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json', 'dist/index.mjs', 'dist/index.cjs', 'dist/index.d.mts', 'dist/index.d.cts', 'dist/openfeature.mjs', 'dist/openfeature.cjs']) {
      expect(paths).toContain(needed);
    }
    expect(packed.size).toBeLessThanOrEqual(60_000);
  });

  it('installs as one package: itself, with no dependency', () => {
    expect(installedBeforeLinks).toEqual(['@rollcall/sdk']);
    const lock = JSON.parse(readFileSync(join(consumer, 'package-lock.json'), 'utf8'));
    expect(Object.keys(lock.packages).sort()).toEqual(['', 'node_modules/@rollcall/sdk']);
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules', '@rollcall', 'sdk', 'package.json'), 'utf8'));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.version).toBe(VERSION);
  });
});

describe.each([
  { format: 'ESM', script: 'esm.mjs', rollout: 'consumer-esm' },
  { format: 'CommonJS', script: 'cjs.cjs', rollout: 'consumer-cjs' },
])('a plain node $format service', ({ script, rollout }) => {
  it('routes, shadow-runs, reports and closes against a real server, with no loader', async () => {
    const ran = await run(process.execPath, [script], { cwd: consumer, env: { ROLLCALL_URL: live.url, ROLLCALL_SDK_KEY: live.sdkKey, ROLLOUT: rollout } });
    expect(ran.code, ran.stderr).toBe(0);
    const out = JSON.parse(ran.stdout);
    expect(out.version).toBe(VERSION); // SDK_VERSION, sent to the server, follows the package
    expect(out.path).toBe('shadow');
    expect(out.result).toEqual({ type: 'invoice.paid', amount: 10 });
    expect(out.contexts).toEqual([{ path: 'old', shadow: false }, { path: 'new', shadow: true }]);
    expect(out.status).toMatchObject({ source: 'server', buffered: 0, dropped: 0, stopped: true });
    expect(await counts(rollout)).toEqual({ received: 2, processed: 2, compared: 1, mismatched: 1 });
  });
});

describe.each(['openfeature.mjs', 'openfeature.cjs'])('the OpenFeature subpath (%s)', (script) => {
  it('evaluates a rollout as a string flag through @openfeature/server-sdk', async () => {
    const ran = await run(process.execPath, [script], { cwd: consumer, env: { ROLLCALL_URL: live.url, ROLLCALL_SDK_KEY: live.sdkKey, ROLLOUT: 'consumer-of' } });
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toEqual({ value: 'new', reason: 'SPLIT' });
  });
});

const COMPILERS = [
  { compiler: 'the repository’s TypeScript', tsc: join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc') },
  { compiler: 'TypeScript 5.9', tsc: join(SDK, 'node_modules', 'typescript', 'bin', 'tsc') },
];
const SETTINGS = [
  { settings: 'nodenext', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' }, files: ['typed.mts', 'typed.cts'] },
  { settings: 'bundler', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' }, files: ['typed.mts'] },
];
const LIBS = [
  { lib: 'without DOM', value: ['ES2022'] },
  { lib: 'with DOM', value: ['ES2022', 'DOM', 'DOM.Iterable'] },
];

describe.each(COMPILERS)('the declarations under $compiler', ({ tsc }) => {
  it.each(SETTINGS.flatMap((s) => LIBS.map((l) => ({ ...s, ...l }))))('compile strictly with $settings, $lib', async ({ settings, compilerOptions, files, lib, value }) => {
    const name = `tsconfig.${settings}.${lib.replace(/\W+/g, '-')}.json`;
    const tsconfig = {
      compilerOptions: {
        ...compilerOptions,
        target: 'ES2022',
        lib: value,
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      files,
    };
    writeFileSync(join(consumer, name), JSON.stringify(tsconfig, null, 2));
    const ran = await run(process.execPath, [tsc, '-p', name], { cwd: consumer });
    expect(ran.stdout + ran.stderr).toBe('');
    expect(ran.code).toBe(0);
  }, 90_000);
});
