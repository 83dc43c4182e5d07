/**
 * What the CLI prints: plain text and aligned tables for people, the
 * server's JSON for scripts (`--json`). Colour only on a terminal, and never
 * with NO_COLOR set (https://no-color.org).
 */
import type { Writable } from 'node:stream';

const STYLES = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1, dim: 2 } as const;
export type Style = keyof typeof STYLES;

/** A table cell: text, or text with a style that is applied after the column is padded. */
export type Cell = string | number | null | undefined | { text: string; style?: Style | undefined };

export interface Output {
  readonly json: boolean;
  readonly color: boolean;
  readonly isTerminal: boolean;
  line(text?: string): void;
  /** A message for people, on stderr, so that stdout stays the result. */
  note(text: string): void;
  paint(style: Style | undefined, text: string): string;
  table(headers: string[], rows: Cell[][]): string;
  /** Prints a result: the JSON with --json, else what `human` renders. */
  result(json: unknown, human: () => string): void;
}

export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '';
}

const cellText = (cell: Cell): string => (cell === null || cell === undefined ? '—' : typeof cell === 'object' ? cell.text : String(cell));

export function createOutput(options: { json: boolean; stdout: Writable & { isTTY?: boolean }; stderr: Writable; env: NodeJS.ProcessEnv }): Output {
  const { json, stdout, stderr } = options;
  const color = colorWanted(stdout, options.env);
  const paint = (style: Style | undefined, text: string) => (color && style !== undefined ? `\x1b[${STYLES[style]}m${text}\x1b[0m` : text);
  return {
    json,
    color,
    isTerminal: stdout.isTTY === true,
    line: (text = '') => void stdout.write(`${text}\n`),
    note: (text) => void stderr.write(`${text}\n`),
    paint,
    table(headers, rows) {
      const texts = rows.map((row) => row.map(cellText));
      const widths = headers.map((h, i) => Math.max(h.length, ...texts.map((row) => row[i]?.length ?? 0)));
      const render = (cells: string[], styles: (Style | undefined)[]) =>
        cells
          .map((text, i) => paint(styles[i], i === cells.length - 1 ? text : text.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd();
      const head = render(headers, headers.map(() => 'bold'));
      const body = rows.map((row, r) => render(texts[r]!, row.map((cell) => (typeof cell === 'object' && cell !== null ? cell.style : undefined))));
      return [head, ...body].join('\n');
    },
    result(value, human) {
      if (json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else stdout.write(`${human()}\n`);
    },
  };
}

/** A percentage as the API gives it (percent), or a rate (0–1) as percent. */
export const percent = (value: number | null | undefined) => (value === null || value === undefined ? '—' : `${value}%`);
export const rate = (value: number | null | undefined) =>
  value === null || value === undefined ? '—' : `${(value * 100).toFixed(Math.abs(value) < 0.01 ? 3 : 1)}%`;
/** An ISO time as `YYYY-MM-DD HH:MM:SS` (UTC), compact enough for a table. */
export const time = (iso: string | null | undefined) => (iso === null || iso === undefined ? '—' : iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

/** A page of a list endpoint. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** How to ask for the next page, when there is one. */
export const more = (page: Page<unknown>, option: string) => (page.nextCursor === null ? '' : `\n\nMore: add ${option} ${page.nextCursor}`);
