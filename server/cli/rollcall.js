#!/usr/bin/env node
// The `rollcall` command line: the root package's `bin`. `npm run build` (run by `npm start` and
// `npm test`) compiles the server and this command line to dist/; that JavaScript starts at once.
// A checkout that was never built (for example installed with --ignore-scripts) runs the TypeScript
// through tsx's loader (a runtime dependency) instead: the same program, slower to start.
import { existsSync } from 'node:fs';

// `--key` may be on the command line; the process title (what `ps` shows) must not carry it.
process.title = 'rollcall';
const built = new URL('../../dist/server/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  // The repository's tsconfig maps @rollcall/protocol to its sources, from whatever directory this runs in.
  register({ tsconfig: new URL('../../tsconfig.json', import.meta.url).pathname });
  await import('./main.ts');
}
