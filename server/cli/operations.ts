/** `rollcall lost KEY`, `rollcall callbacks list|deliveries|retry`, `rollcall audit [KEY]`: reading what happened, and redelivery. */
import type { Command } from 'commander';
import { withContext } from './context.ts';
import { idArgument, positiveInt, rolloutKeyArgument } from './arguments.ts';
import { time } from './output.ts';

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const more = (page: Page<unknown>, option: string) => (page.nextCursor === null ? '' : `\n\nMore: add ${option} ${page.nextCursor}`);

export function registerOperations(program: Command): void {
  program
    .command('lost')
    .description('lost messages of a rollout, by id (oldest first)')
    .argument('<key>', 'the rollout', rolloutKeyArgument)
    .option('--status <status...>', 'lost | replayed | late (default: all three)')
    .option('--cohort <name>', 'one cohort')
    .option('--limit <n>', 'at most this many', positiveInt, 100)
    .option('--after <cursor>', 'the page after this cursor')
    .action(
      withContext(async (ctx, key: string, options: { status?: string[]; cohort?: string; limit: number; after?: string }) => {
        type Lost = { messageId: string; partnerId: string; cohort: string; path: string; status: string; receivedAt: string | null; settledAt: string | null; replayAttempts: number };
        const page = await ctx.client.request<Page<Lost>>('GET', `/v1/rollouts/${key}/lost`, { query: { status: options.status, cohort: options.cohort, limit: options.limit, after: options.after } });
        ctx.out.result(page, () =>
          page.items.length === 0
            ? `No lost messages in ${key}.`
            : ctx.out.table(
                ['MESSAGE', 'PARTNER', 'COHORT', 'PATH', 'STATUS', 'RECEIVED', 'SETTLED', 'REPLAYS'],
                page.items.map((m) => [m.messageId, m.partnerId, m.cohort, m.path, { text: m.status, style: m.status === 'lost' ? 'red' : undefined }, time(m.receivedAt), time(m.settledAt), m.replayAttempts]),
              ) + more(page, '--after'),
        );
      }),
    );

  const callbacks = program.command('callbacks').description('kill-switch subscriptions and their deliveries');
  callbacks
    .command('list')
    .description('subscriptions (never their secrets)')
    .option('--rollout <key>', 'only those of one rollout', rolloutKeyArgument)
    .option('--status <status>', 'enabled | disabled | deleted | all')
    .action(
      withContext(async (ctx, options: { rollout?: string; status?: string }) => {
        type Sub = { id: string; url: string; rollout: string | null; events: string[] | null; status: string; createdAt: string };
        const page = await ctx.client.request<Page<Sub>>('GET', '/v1/callbacks', { query: { rollout: options.rollout, status: options.status, limit: 1000 } });
        ctx.out.result(page, () =>
          page.items.length === 0
            ? 'No subscriptions.'
            : ctx.out.table(['ID', 'URL', 'ROLLOUT', 'EVENTS', 'STATUS', 'CREATED'], page.items.map((s) => [s.id, s.url, s.rollout ?? 'all', s.events?.join(',') ?? 'all', s.status, time(s.createdAt)])),
        );
      }),
    );
  callbacks
    .command('deliveries')
    .description("a subscription's delivery log, newest first")
    .argument('<id>', 'the subscription (cb_…)', idArgument)
    .option('--status <status>', 'pending | succeeded | failed | cancelled')
    .option('--limit <n>', 'at most this many (200 at most)', positiveInt, 50)
    .option('--before <cursor>', 'the page after this cursor')
    .action(
      withContext(async (ctx, id: string, options: { status?: string; limit: number; before?: string }) => {
        type Delivery = { id: string; type: string; rollout: string; status: string; lastStatus: number | null; lastError: string | null; createdAt: string; attempts: unknown[] };
        const page = await ctx.client.request<Page<Delivery>>('GET', `/v1/callbacks/${id}/deliveries`, { query: { status: options.status, limit: options.limit, before: options.before } });
        ctx.out.result(page, () =>
          page.items.length === 0
            ? `No deliveries for ${id}.`
            : ctx.out.table(
                ['DELIVERY', 'TYPE', 'ROLLOUT', 'STATUS', 'ATTEMPTS', 'LAST', 'CREATED'],
                page.items.map((d) => [d.id, d.type, d.rollout, { text: d.status, style: d.status === 'failed' ? 'red' : undefined }, d.attempts.length, d.lastStatus ?? d.lastError, time(d.createdAt)]),
              ) + more(page, '--before'),
        );
      }),
    );
  callbacks
    .command('retry')
    .description('send one delivery again now (same webhook-id)')
    .argument('<delivery>', 'the delivery (dlv_…)', idArgument)
    .action(
      withContext(async (ctx, id: string) => {
        const result = await ctx.client.request<{ id: string; status: string }>('POST', `/v1/deliveries/${id}/retry`);
        ctx.out.result(result, () => `${id}: ${result.status === 'pending' ? 'brought forward: it is sent now' : `sent again: ${result.status}`}`);
      }),
    );

  program
    .command('audit')
    .description('who changed what, and why; newest first')
    .argument('[key]', 'one rollout', rolloutKeyArgument)
    .option('--limit <n>', 'at most this many', positiveInt, 20)
    .option('--before <cursor>', 'the page after this cursor')
    .action(
      withContext(async (ctx, key: string | undefined, options: { limit: number; before?: string }) => {
        type Entry = { id: number; at: string; actor: string; action: string; rollout: string | null; subject: string | null; reason: string | null };
        const page = await ctx.client.request<Page<Entry>>('GET', '/v1/audit', { query: { rollout: key, limit: options.limit, before: options.before } });
        ctx.out.result(page, () =>
          page.items.length === 0
            ? 'No audit entries.'
            : ctx.out.table(['AT', 'ACTOR', 'ACTION', 'ROLLOUT', 'SUBJECT', 'REASON'], page.items.map((e) => [time(e.at), e.actor, e.action, e.rollout, e.subject, e.reason])) + more(page, '--before'),
        );
      }),
    );
}
