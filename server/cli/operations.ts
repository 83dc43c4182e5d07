/** `rollcall lost KEY`, `rollcall audit [KEY]`: reading what happened. */
import type { Command } from 'commander';
import { withContext } from './context.ts';
import { positiveInt, rolloutKeyArgument } from './arguments.ts';
import { time } from './output.ts';

import { more, type Page } from './output.ts';

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
