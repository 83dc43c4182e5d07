/**
 * The README stays an introduction (15,000 bytes at most) and every relative
 * link in it and in docs/ reaches a file, and a heading when it names one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', 'sdk/README.md', 'clients/python/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Markdown without its fenced code blocks (links and headings there are not links and headings). */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function linksOf(text: string): string[] {
  return [...prose(text).replace(/`[^`\n]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('the README and docs/', () => {
  it('keep the README at 15,000 bytes or less', () => {
    expect(statSync(join(ROOT, 'README.md')).size).toBeLessThanOrEqual(15_000);
  });

  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      const text = readFileSync(join(ROOT, page), 'utf8');
      for (const link of linksOf(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto: …
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path);
        if (!existsSync(target)) {
          broken.push(`${page}: ${link} (no ${relative(ROOT, target)})`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${page}: ${link} (no heading #${anchor} in ${relative(ROOT, target)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('link every page of docs/ from the README', () => {
    const linked = new Set(linksOf(readFileSync(join(ROOT, 'README.md'), 'utf8')).map((l) => l.split('#')[0]));
    const missing = PAGES.filter((p) => p.startsWith('docs/') && !linked.has(p));
    expect(missing).toEqual([]);
  });

  it('stand on their own: no page points into the engineers’ notes outside the repository', () => {
    for (const page of PAGES) expect(readFileSync(join(ROOT, page), 'utf8'), page).not.toMatch(/\.\.\/shared|DESIGN\.md|STYLE\.md/);
  });

  it('compute anchors the way GitHub does', () => {
    expect([...anchorsOf('# Watermarks: a late report is not a loss\n## `rollout.started`\n## Step\n## Step')]).toEqual([
      'watermarks-a-late-report-is-not-a-loss',
      'rolloutstarted',
      'step',
      'step-1',
    ]);
  });
});
