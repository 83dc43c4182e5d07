/**
 * docs/callbacks.md shows every event's body exactly as sent: each event type
 * is produced through a real server and received over HTTP, and its field
 * names and structure must equal one of the documented bodies for that type
 * (values may differ), and every documented body must match one sent.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CALLBACK_EVENTS } from '../../server/callbacks/events.ts';
import { produceCallbackEvents, type SentEvent } from './callback-events.ts';

const DOC = new URL('../../docs/callbacks.md', import.meta.url);

/** The structure of a JSON value: object keys and nesting, array element shapes; every scalar (null included) alike. */
export function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return [...new Set(value.map((v) => JSON.stringify(shapeOf(v))))].sort();
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, shapeOf((value as Record<string, unknown>)[key])]));
  }
  return 'scalar';
}

/** Every fenced JSON block of the doc that is an event body. */
function documentedBodies(): SentEvent[] {
  const text = readFileSync(DOC, 'utf8');
  const bodies: SentEvent[] = [];
  for (const [, block] of text.matchAll(/```json\n([\s\S]*?)\n```/g)) {
    const parsed = JSON.parse(block!) as SentEvent;
    if ((CALLBACK_EVENTS as readonly string[]).includes(parsed.type)) bodies.push(parsed);
  }
  return bodies;
}

describe('docs/callbacks.md', () => {
  it('shows every event the server sends with exactly the fields it sends', async () => {
    const sent = await produceCallbackEvents();
    const documented = documentedBodies();
    for (const type of CALLBACK_EVENTS) {
      expect(sent.map((e) => e.type), `the scenario never produced ${type}`).toContain(type);
      expect(documented.map((e) => e.type), `docs/callbacks.md has no body for ${type}`).toContain(type);
    }
    const key = (e: SentEvent) => JSON.stringify(shapeOf(e));
    const documentedShapes = new Set(documented.map(key));
    for (const event of sent) {
      const candidates = documented.filter((d) => d.type === event.type);
      expect(
        documentedShapes.has(key(event)),
        `${event.type} as sent is not documented:\n${JSON.stringify(event, null, 2)}\ndocumented:\n${candidates.map((d) => JSON.stringify(d, null, 2)).join('\n')}`,
      ).toBe(true);
    }
    const sentShapes = new Set(sent.map(key));
    for (const body of documented) {
      expect(sentShapes.has(key(body)), `docs/callbacks.md shows a ${body.type} body that no event sent has:\n${JSON.stringify(body, null, 2)}`).toBe(true);
    }
  }, 60_000);

  it('tells the structure apart: a field renamed, added or nested differently is caught', () => {
    const body = { type: 'messages.lost', data: { figures: { count: 1, byCohort: { c1: 1 } } } };
    expect(shapeOf(body)).toEqual(shapeOf({ type: 'x', data: { figures: { count: 9, byCohort: { c1: 3 } } } }));
    expect(shapeOf(body)).not.toEqual(shapeOf({ type: 'messages.lost', data: { count: 1, byCohort: { c1: 1 } } }));
    expect(shapeOf(body)).not.toEqual(shapeOf({ type: 'messages.lost', data: { figures: { count: 1, byCohort: { c1: 1 }, extra: 0 } } }));
    expect(shapeOf({ figures: null })).not.toEqual(shapeOf({ figures: {} }));
  });
});
