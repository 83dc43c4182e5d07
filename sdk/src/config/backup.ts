/**
 * The last good snapshot on disk, so that a service restarted while the
 * server is down routes as before. Written atomically (temporary file, then
 * rename) on every change. `node:fs/promises` is loaded on first use, so a
 * service that keeps no backup never loads it.
 */
import type { ConfigSnapshot } from '@rollcall/protocol';
import { isSnapshot } from './validate-snapshot.ts';

export interface Backup {
  savedAt: number;
  snapshot: ConfigSnapshot;
}

export async function writeBackup(path: string, snapshot: ConfigSnapshot, savedAt: number): Promise<void> {
  const { rename, writeFile } = await import('node:fs/promises');
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, JSON.stringify({ savedAt, snapshot } satisfies Backup));
  await rename(temporary, path);
}

/** The backup at `path`, or null when there is none or it cannot be read as one. */
export async function readBackup(path: string): Promise<Backup | null> {
  try {
    const { readFile } = await import('node:fs/promises');
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<Backup>;
    if (typeof parsed.savedAt !== 'number' || !isSnapshot(parsed.snapshot)) return null;
    return { savedAt: parsed.savedAt, snapshot: parsed.snapshot };
  } catch {
    return null;
  }
}
