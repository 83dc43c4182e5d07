#!/usr/bin/env node
// The `rollcall` command line: the root package's `bin`. The CLI is TypeScript like the rest of the
// server, so this entry registers tsx's loader (a runtime dependency) and hands over to main.ts.
import { register } from 'tsx/esm/api';

// `--key` may be on the command line; the process title (what `ps` shows) must not carry it.
process.title = 'rollcall';
register();
await import('./main.ts');
