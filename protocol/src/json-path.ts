/**
 * The small JSONPath subset that comparison options use: `$.a.b`,
 * `$.items[*].at`, `$.items[0]`, `$["odd key"]`. `*` matches any key or index.
 */
export type Segment = string | number;

export function parsePath(pattern: string): Segment[] {
  const text = pattern.trim();
  if (!text.startsWith('$')) throw new Error(`a path starts with $: ${pattern}`);
  const segments: Segment[] = [];
  const re = /\.([A-Za-z_$][\w$-]*|\*)|\[(\*|\d+)\]|\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    const m = re.exec(text);
    if (m === null) throw new Error(`cannot read path ${pattern} at ${at}`);
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(m[2] === '*' ? '*' : Number(m[2]));
    else segments.push(JSON.parse(`"${m[3] ?? (m[4] ?? '').replace(/"/g, '\\"')}"`) as string);
  }
  return segments;
}

export function formatPath(path: readonly Segment[]): string {
  let out = '$';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (s === '*') out += '[*]';
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** The path with every index turned into `*`: how learned noise generalises. */
export function generalise(path: readonly Segment[]): Segment[] {
  return path.map((s) => (typeof s === 'number' ? '*' : s));
}

interface Node {
  children: Map<Segment, Node>;
  terminal: boolean;
}

const node = (): Node => ({ children: new Map(), terminal: false });

/** A set of path patterns, as a trie. */
export class PathSet {
  private readonly root = node();
  private count = 0;

  constructor(patterns: Iterable<string | readonly Segment[]> = []) {
    for (const p of patterns) this.add(p);
  }

  get size(): number {
    return this.count;
  }

  add(pattern: string | readonly Segment[]): boolean {
    const segments = typeof pattern === 'string' ? parsePath(pattern) : pattern;
    let current = this.root;
    for (const s of segments) {
      let next = current.children.get(s);
      if (next === undefined) current.children.set(s, (next = node()));
      current = next;
    }
    if (current.terminal) return false;
    current.terminal = true;
    this.count++;
    return true;
  }

  /** True when some pattern matches `path` exactly (with `*` for any one segment). */
  has(path: readonly Segment[]): boolean {
    if (this.count === 0) return false;
    return match(this.root, path, 0);
  }
}

function match(at: Node, path: readonly Segment[], i: number): boolean {
  if (i === path.length) return at.terminal;
  const exact = at.children.get(path[i]!);
  if (exact !== undefined && match(exact, path, i + 1)) return true;
  const star = at.children.get('*');
  return star !== undefined && match(star, path, i + 1);
}
