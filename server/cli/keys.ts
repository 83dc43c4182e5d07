/** `rollcall keys create|list|revoke|restore|prune`: the API keys. A new key is printed once, as the API shows it once. */
import type { Command } from 'commander';
import { listAll } from './client.ts';
import { withContext } from './context.ts';
import { idArgument, positiveInt } from './arguments.ts';
import { time, type Output } from './output.ts';

interface KeyView {
  id: string;
  kind: string;
  name: string;
  prefix: string;
  status: 'active' | 'revoked';
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const keyTable = (out: Output, keys: KeyView[]) =>
  out.table(
    ['ID', 'KIND', 'NAME', 'PREFIX', 'STATUS', 'CREATED', 'LAST USED'],
    keys.map((k) => [k.id, k.kind, k.name, k.prefix, { text: k.status, style: k.status === 'revoked' ? 'dim' : undefined }, time(k.createdAt), time(k.lastUsedAt)]),
  );

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('API keys: create, list, revoke, restore, prune');

  keys
    .command('create')
    .description('create a key; it is printed this once and stored only as a hash')
    .requiredOption('--kind <kind>', 'admin | sdk | read')
    .requiredOption('--name <name>', 'who or what uses it')
    .action(
      withContext(async (ctx, options: { kind: string; name: string }) => {
        const created = await ctx.client.request<KeyView & { key: string }>('POST', '/v1/keys', { body: { kind: options.kind, name: options.name } });
        ctx.out.result(created, () => `${created.key}\n\n${created.kind} key ${created.id} (${created.name}): shown this once; keep it somewhere safe.`);
      }),
    );

  keys
    .command('list')
    .description('every key (never the keys themselves)')
    .action(
      withContext(async (ctx) => {
        const items = await listAll<KeyView>(ctx.client, '/v1/keys');
        ctx.out.result({ items }, () => keyTable(ctx.out, items));
      }),
    );

  for (const action of ['revoke', 'restore'] as const) {
    keys
      .command(action)
      .description(action === 'revoke' ? 'revoke a key (keys are never deleted)' : 'restore a revoked key')
      .argument('<id>', 'the key id (key_…)', idArgument)
      .option('--reason <text>', 'why, for the audit log')
      .action(
        withContext(async (ctx, id: string, options: { reason?: string }) => {
          const view = await ctx.client.request<KeyView>('POST', `/v1/keys/${id}/${action}`, { body: options.reason === undefined ? undefined : { reason: options.reason } });
          ctx.out.result(view, () => `${view.id} (${view.name}) is ${view.status}.`);
        }),
      );
  }

  keys
    .command('prune')
    .description('list keys unused for a while; revoke them with --apply')
    .option('--apply', 'revoke them (without it, a dry run)')
    .option('--unused-days <n>', 'unused for at least this many days (at least 30)', positiveInt)
    .action(
      withContext(async (ctx, options: { apply?: boolean; unusedDays?: number }) => {
        const result = await ctx.client.request<{ apply: boolean; unusedDays: number; keys: KeyView[]; revoked: string[] }>('POST', '/v1/keys/prune', {
          body: { apply: options.apply === true, ...(options.unusedDays === undefined ? {} : { unusedDays: options.unusedDays }) },
        });
        ctx.out.result(result, () => {
          const head = result.apply ? `Revoked ${result.revoked.length} keys unused for ${result.unusedDays} days.` : `Dry run: ${result.keys.length} keys unused for ${result.unusedDays} days would be revoked (--apply revokes them).`;
          return result.keys.length === 0 ? head : `${head}\n\n${keyTable(ctx.out, result.keys)}`;
        });
      }),
    );
}
