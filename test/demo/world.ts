/**
 * The demo's world: a Rollcall server on a throwaway database, a kill-switch
 * receiver that verifies every signature, SDK clients standing for the
 * instances of a partner-facing service, and a timeline printed as it happens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Webhook } from 'standardwebhooks';
import { createClient, type RollcallClient } from '../../sdk/src/index.ts';
import { createApp, type RollcallApp } from '../../server/app.ts';
import { systemClock } from '../../server/clock.ts';
import { loadConfig } from '../../server/config.ts';
import { openDatabase, type Database } from '../../server/db/database.ts';
import { randomBase62 } from '../../server/keys/key-format.ts';
import { silentLogger } from '../../server/logger.ts';

const started = performance.now();
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

export function log(scenario: string, message: string): void {
  const at = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
  console.log(`+${at}s  ${scenario.padEnd(14)} ${message}`);
}

export interface Callback {
  type: string;
  rollout: string;
  cohort: string | null;
  at: number;
  /** For messages.lost: how many were found lost, and how many of the rollout's were still lost when it was sent. */
  count?: number;
  stillLost?: number;
}

export interface World {
  url: string;
  adminKey: string;
  readKey: string;
  rollcall: RollcallApp;
  database: Database;
  /** Three instances of the partner-facing service. */
  instances: RollcallClient[];
  callbacks: Callback[];
  rejectedCallbacks: number;
  api<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

async function startReceiver(secret: () => string, world: { callbacks: Callback[]; rejectedCallbacks: number }): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      try {
        const event = new Webhook(secret()).verify(body, req.headers as Record<string, string>) as { type: string; data: { rollout: string; cohort: string | null; reason: string | null; figures: { count?: number; stillLost?: number } | null } };
        res.writeHead(204).end();
        const { count, stillLost } = event.data.figures ?? {};
        world.callbacks.push({ type: event.type, rollout: event.data.rollout, cohort: event.data.cohort, at: performance.now(), count, stillLost });
        if (event.type !== 'rollout.started' && event.type !== 'rollout.advanced') {
          const lost = event.type === 'messages.lost' ? `: ${count} found lost, ${stillLost} still lost as it is sent` : '';
          log(event.data.rollout, `kill-switch receiver: ${bold(event.type)}${event.data.cohort ? ` ${event.data.cohort}` : ''}${lost} (signature verified, webhook-id ${req.headers['webhook-id']})`);
        }
      } catch {
        world.rejectedCallbacks++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rollcall` };
}

export async function startWorld(port: number): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-demo-'));
  const database = await openDatabase({ url: `file:${join(dir, 'rollcall.db')}` });
  const rollcall = createApp({
    database,
    clock: systemClock,
    logger: silentLogger,
    controller: { tickMs: 250 },
    // messages.lost batches losses found within 30 s; the demo's 5 s lets the last batch arrive before its summary.
    callbacks: { allow: loadConfig({ ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' }).callbackAllow, pollMs: 200, lostIntervalMs: 5_000 },
  });
  const adminKey = `demo-admin-${randomBase62(32)}`;
  await rollcall.services.keys.bootstrap(adminKey);
  const keyId = (await rollcall.services.keys.list({ limit: 1 })).items[0]!.id;
  const readKey = (await rollcall.services.keys.create({ kind: 'read', name: 'demo dashboard' }, keyId)).key;
  const sdkKey = (await rollcall.services.keys.create({ kind: 'sdk', name: 'demo partner service' }, keyId)).key;
  rollcall.start();
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: rollcall.app.fetch, port, hostname: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const parsed = (await res.json()) as T;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(parsed)}`);
    return parsed;
  };

  const state = { callbacks: [] as Callback[], rejectedCallbacks: 0 };
  let secret = '';
  const receiver = await startReceiver(() => secret, state);
  secret = (await api<{ secret: string }>('POST', '/v1/callbacks', { url: receiver.url, description: 'the demo kill-switch receiver' })).secret;

  const quiet = { warn() {}, error() {} };
  const instances = Array.from({ length: 3 }, () => createClient({ url, sdkKey, flushIntervalMs: 250, logger: quiet, replay: { intervalMs: 500 }, shadowTimeoutMs: 1_000 }));
  await Promise.all(instances.map((c) => c.ready()));

  const world: World = {
    url,
    adminKey,
    readKey,
    rollcall,
    database,
    instances,
    get callbacks() {
      return state.callbacks;
    },
    get rejectedCallbacks() {
      return state.rejectedCallbacks;
    },
    api,
    async close() {
      await Promise.all(instances.map((c) => c.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeAllConnections' in server) server.closeAllConnections();
      await rollcall.close();
      database.close();
      receiver.server.closeAllConnections();
      receiver.server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Prints the audit trail of a rollout as it grows: every decision, by whom, why. */
export function followAudit(world: World, rollout: string): () => void {
  let lastId = 0;
  const timer = setInterval(async () => {
    try {
      const { items } = await world.api<{ items: { id: number; action: string; actor: string; subject: string | null; reason: string | null }[] }>('GET', `/v1/audit?rollout=${rollout}&limit=20`);
      for (const entry of items.filter((e) => e.id > lastId).reverse()) {
        lastId = entry.id;
        if (entry.action === 'rollout.created') continue;
        const by = entry.actor === 'controller' ? 'the controller' : 'an admin';
        log(rollout, `${bold(entry.action)}${entry.subject ? ` ${entry.subject}` : ''} by ${by}${entry.reason ? ` — ${entry.reason}` : ''}`);
      }
    } catch {
      /* the next poll tries again */
    }
  }, 200);
  return () => clearInterval(timer);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves true once `check` holds, false after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}
