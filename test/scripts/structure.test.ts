/**
 * The source tree's structure, read from its imports (scripts/structure.ts,
 * `npm run structure`), held where issue 29 left it: no cycles between files
 * or folders (type-only imports included), no domain reading another's
 * store, and a command line that asks the server over HTTP instead of
 * importing its code.
 */
import { describe, expect, it } from 'vitest';
import { readEdges, structure } from '../../scripts/structure.ts';

describe('the structure', () => {
  const s = structure();

  it('has no file cycles and no folder cycles, type-only imports included', () => {
    expect(s.fileCycles).toEqual([]);
    expect(s.folderCycles).toEqual([]);
    expect(s.folderCycleImports).toEqual([]);
  });

  it('has no domain importing another domain’s store', () => {
    expect(s.importsOfAnotherDomainsStore).toEqual([]);
  });

  it('has the command line import nothing of the server but `rollcall serve`’s entry point', () => {
    const { edges } = readEdges();
    const fromCli = edges.filter((e) => e.from.startsWith('server/cli/') && e.to.startsWith('server/') && !e.to.startsWith('server/cli/'));
    // `rollcall serve` is the server itself, started as npm start starts it.
    expect(fromCli.map((e) => `${e.from} → ${e.to}`)).toEqual(['server/cli/serve.ts → server/main.ts']);
  });

  it('reads the imports it judges (a sanity check on the reader)', () => {
    expect(s.files).toBeGreaterThan(100);
    expect(s.imports).toBeGreaterThan(500);
  });
});
