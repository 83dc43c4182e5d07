/**
 * `rollcall callbacks create|list|delete|test|deliveries|retry`: kill-switch subscriptions from a
 * terminal. `create` prints the signing secret once (the API shows it only then); `test` sends a
 * signed `callback.test` event and waits a little for its one attempt, to say what the receiver answered.
 */
import type { Command } from 'commander';
import { withContext } from './context.ts';
import { idArgument, positiveInt, rolloutKeyArgument } from './arguments.ts';
import { more, time, type Page } from './output.ts';

type Sub = { id: string; url: string; rollout: string | null; events: string[] | null; status: string; createdAt: string; secret?: string };
type Attempt = { at: string; status: number | null; latencyMs: number; error: string | null };
type Delivery = { id: string; type: string; rollout: string; status: string; lastStatus: number | null; lastError: string | null; createdAt: string; attempts: Attempt[] };

/** How long `test` waits for its attempt before saying where to look. */
const TEST_WAIT_MS = 15_000;

export function registerCallbacks(program: Command): void {
  const callbacks = program.command('callbacks').description('kill-switch subscriptions and their deliveries');
  callbacks
    .command('create')
    .description('subscribe a URL to signed events (prints the secret once)')
    .argument('<url>', 'the receiver (http or https)')
    .option('--rollout <key>', "only this rollout's events", rolloutKeyArgument)
    .option('--events <types...>', 'only these event types (default: all)')
    .option('--description <text>', 'what it is for')
    .action(
      withContext(async (ctx, url: string, options: { rollout?: string; events?: string[]; description?: string }) => {
        const body = { url, rollout: options.rollout, events: options.events, description: options.description };
        const created = await ctx.client.request<Sub>('POST', '/v1/callbacks', { body });
        ctx.out.result(created, () => `subscribed ${created.id} to ${created.url} (${created.rollout ?? 'every rollout'}, ${created.events?.join(', ') ?? 'every event'})\nsecret: ${created.secret}\nStore the secret now: it verifies the webhook-signature header and is not shown again (rotate it with the API).`);
      }),
    );
  callbacks
    .command('list')
    .description('subscriptions (never their secrets)')
    .option('--rollout <key>', 'only those of one rollout', rolloutKeyArgument)
    .option('--status <status>', 'enabled | disabled | deleted | all')
    .action(
      withContext(async (ctx, options: { rollout?: string; status?: string }) => {
        const page = await ctx.client.request<Page<Sub>>('GET', '/v1/callbacks', { query: { rollout: options.rollout, status: options.status, limit: 1000 } });
        ctx.out.result(page, () =>
          page.items.length === 0
            ? 'No subscriptions.'
            : ctx.out.table(['ID', 'URL', 'ROLLOUT', 'EVENTS', 'STATUS', 'CREATED'], page.items.map((s) => [s.id, s.url, s.rollout ?? 'all', s.events?.join(',') ?? 'all', s.status, time(s.createdAt)])),
        );
      }),
    );
  callbacks
    .command('delete')
    .description('delete a subscription (its pending deliveries are cancelled; the log stays)')
    .argument('<id>', 'the subscription (cb_…)', idArgument)
    .action(
      withContext(async (ctx, id: string) => {
        const deleted = await ctx.client.request<Sub>('DELETE', `/v1/callbacks/${id}`);
        ctx.out.result(deleted, () => `${id} deleted (${deleted.url})`);
      }),
    );
  callbacks
    .command('test')
    .description('send a signed callback.test event to a subscription now, and say what the receiver answered')
    .argument('<id>', 'the subscription (cb_…)', idArgument)
    .action(
      withContext(async (ctx, id: string) => {
        const queued = await ctx.client.request<{ delivery: string; message: string }>('POST', `/v1/callbacks/${id}/test`);
        const deadline = Date.now() + TEST_WAIT_MS;
        let delivery: Delivery | undefined;
        while (Date.now() < deadline) {
          const page = await ctx.client.request<Page<Delivery>>('GET', `/v1/callbacks/${id}/deliveries`, { query: { limit: 20 } });
          delivery = page.items.find((d) => d.id === queued.delivery);
          if (delivery !== undefined && delivery.status !== 'pending') break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        const attempt = delivery?.attempts.at(-1);
        const said =
          delivery === undefined || delivery.status === 'pending' || attempt === undefined
            ? `queued as ${queued.delivery}, not attempted within ${TEST_WAIT_MS / 1000} s: rollcall callbacks deliveries ${id} shows it`
            : delivery.status === 'succeeded'
              ? `delivered: the receiver answered ${attempt.status} in ${attempt.latencyMs} ms (${queued.delivery}, webhook-id ${queued.message})`
              : `not delivered: ${attempt.error ?? `the receiver answered ${attempt.status}`} (${queued.delivery})`;
        ctx.out.result({ ...queued, delivery }, () => said);
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
}
