/**
 * A rollouts file: YAML or JSON holding `rollouts: [...]`, each entry the
 * body `POST /v1/rollouts` takes. The file's own shape (its syntax, the list,
 * keys listed twice) is checked here; each entry is checked by the server
 * itself, with a dry run (`apply.ts`), so the file and the API cannot
 * disagree. Every problem is reported with its file, line, column and field,
 * all of them at once, before anything is written.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { CliError, EXIT } from './errors.ts';

/** One entry as the file gives it: the server checks it (a dry run) before anything is written. */
export type RolloutEntry = { key: string; plan: unknown[] } & Record<string, unknown>;

const fileSchema = z.strictObject({
  rollouts: z.array(z.unknown()).min(1, 'the file lists no rollouts').max(1000),
});

/** Keys listed twice, found on the raw data so that they are reported beside every other problem. */
function duplicateKeys(data: unknown): { path: PropertyKey[]; message: string }[] {
  const rollouts = (data as { rollouts?: unknown } | null)?.rollouts;
  if (!Array.isArray(rollouts)) return [];
  const seen = new Map<unknown, number>();
  const found: { path: PropertyKey[]; message: string }[] = [];
  rollouts.forEach((rollout, i) => {
    const key = (rollout as { key?: unknown } | null)?.key;
    if (typeof key !== 'string') return;
    const first = seen.get(key);
    if (first !== undefined) found.push({ path: ['rollouts', i, 'key'], message: `${key} is already listed as rollouts[${first}]` });
    else seen.set(key, i);
  });
  return found;
}

export interface FileProblem {
  line: number;
  column: number;
  field: string;
  message: string;
}

/** The file's name and its problems, one line each: `file:line:column: field: message`. */
export class RolloutFileError extends CliError {
  constructor(name: string, problems: FileProblem[]) {
    const lines = problems.map((p) => `${name}:${p.line}:${p.column}: ${p.field === '' ? '' : `${p.field}: `}${p.message}`);
    super(EXIT.usage, `${name} is not a valid rollouts file:\n  ${lines.join('\n  ')}`, { error: { code: 'invalid_file', message: `${name} is not a valid rollouts file`, details: { file: name, problems } } });
  }
}

/** The node at `path`, or the deepest one that exists on the way (a missing field is placed at its parent). */
function offsetOf(doc: Document, path: readonly PropertyKey[], atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = (node as { range?: [number] } | null)?.range?.[0] ?? 0;
  for (const [i, segment] of path.entries()) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === segment);
      next = atKey && i === path.length - 1 ? pair?.key : pair?.value;
    } else if (isSeq(node) && /^\d+$/.test(String(segment))) {
      next = node.items[Number(segment)];
    }
    const range = (next as { range?: [number] } | undefined)?.range;
    if (range === undefined) break;
    node = next;
    offset = range[0];
  }
  return offset;
}

/** `plan[2].live` for a path inside a rollout, with the rollout's key in front when the file gives one. */
function fieldOf(path: readonly PropertyKey[], data: unknown): string {
  const inner = path.slice(2).map((s) => (typeof s === 'number' ? `[${s}]` : `.${String(s)}`)).join('').replace(/^\./, '');
  if (path[0] !== 'rollouts' || typeof path[1] !== 'number') return path.map(String).join('.');
  const key = (data as { rollouts?: { key?: unknown }[] } | null)?.rollouts?.[path[1]]?.key;
  const who = typeof key === 'string' ? key : `rollouts[${path[1]}]`;
  return inner === '' ? who : `${who} ${inner}`;
}

/** A problem as the server or the file's own check reports it: a path inside the file's data, and what is wrong. */
export interface Issue {
  path: readonly PropertyKey[];
  code: string;
  message: string;
  /** The unknown keys, for an `unrecognized_keys` issue. */
  keys?: string[];
}

/** A file that parsed: its entries, and where a problem at a path inside it is. */
export interface RolloutFile {
  name: string;
  entries: RolloutEntry[];
  /** Keys listed twice (reported with what the server finds). */
  duplicates: FileProblem[];
  /** Places issues by line, column and field; `fields` are a rollout's (the hint for an unknown one). */
  place(issues: Issue[], fields?: string[]): FileProblem[];
  /** The error naming every problem, sorted by line. */
  error(problems: FileProblem[]): RolloutFileError;
}

/** Reads the text as YAML (JSON is YAML) and checks the file's own shape; the entries are the server's to check. */
export function parseRolloutFile(name: string, text: string): RolloutFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new RolloutFileError(
      name,
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return { line, column: col, field: '', message: error.message.split('\n')[0]! };
      }),
    );
  }
  const data: unknown = doc.toJS();
  const at = (path: readonly PropertyKey[], atKey: boolean, message: string): FileProblem => {
    const { line, col } = lineCounter.linePos(offsetOf(doc, path, atKey));
    return { line, column: col, field: fieldOf(path, data), message };
  };
  const place = (issues: Issue[], fields?: string[]): FileProblem[] =>
    issues.flatMap((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const known = issue.path.length === 2 && fields !== undefined ? ` (a rollout has ${fields.join(', ')})` : '';
        return (issue.keys ?? []).map((key) => at([...issue.path, key], true, `unknown field${known}`));
      }
      const missing = issue.code === 'invalid_type' && issue.message.endsWith('received undefined');
      return [at(issue.path, false, missing ? `missing (${issue.message.replace(/^Invalid input: /, '')})` : issue.message)];
    });
  const error = (problems: FileProblem[]) => new RolloutFileError(name, [...problems].sort((a, b) => a.line - b.line || a.column - b.column));
  const duplicates = duplicateKeys(data).map((d) => at(d.path, false, d.message));
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    throw error([...duplicates, ...place(parsed.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message, ...(i.code === 'unrecognized_keys' ? { keys: i.keys } : {}) })))]);
  }
  return { name, entries: parsed.data.rollouts as RolloutEntry[], duplicates, place, error };
}

/** Reads `-f`: a path, or `-` for standard input. */
export async function readRolloutFile(path: string): Promise<RolloutFile> {
  const name = path === '-' ? '<stdin>' : path;
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (error) {
    const message = `cannot read ${name} (${(error as { code?: string }).code ?? (error as Error).message})`;
    throw new CliError(EXIT.usage, message, { error: { code: 'unreadable_file', message } });
  }
  return parseRolloutFile(name, text);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
