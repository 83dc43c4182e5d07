/**
 * Run in its own process (node --expose-gc): how much memory the SDK adds
 * with 100,000 messages in flight. Compares 100,000 `run()` calls whose
 * handlers never settle against the same 100,000 never-settling handler
 * calls made directly, so only what the SDK holds is counted; and 100,000
 * `received()` with no `processed()` (the SDK's records alone); and ten
 * times as many `received()`, flushed as they go, that another process
 * settles (this one never hears of them again): bounded by
 * `maxRememberedIds`, not by what flowed.
 */
import { offlineClient, SNAPSHOT } from './evaluation.ts';

const count = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc!;
const used = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
};
const MB = 1024 * 1024;
const never = () => new Promise<number>(() => {});
const live = { ...SNAPSHOT, rollouts: [{ ...SNAPSHOT.rollouts[0]!, cohorts: [{ name: 'c1', from: 0, to: 10_000, status: 'active' as const }], live: 10_000 }] };
const ids = Array.from({ length: count }, (_, i) => ({ partnerId: `partner-${i % 5000}`, messageId: `message-${i}-${(i * 2654435761) % 1_000_003}` }));

async function main() {
  // The host alone: the same handler calls, never settling, no SDK.
  let start = used();
  const direct: Promise<number>[] = [];
  for (let i = 0; i < count; i++) direct.push(never());
  const hostOnly = used() - start;
  direct.length = 0;

  const rc = offlineClient(live);
  await rc.ready();
  start = used();
  const pending: Promise<number>[] = [];
  for (let i = 0; i < count; i++) pending.push(rc.run('psa-webhooks-v2', ids[i]!, { old: never, new: never }));
  // Let a flush happen: open messages are then named by id in the report buffer.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const withRun = used() - start;
  const inFlight = rc.status.inFlight;
  pending.length = 0;

  const manual = offlineClient(live);
  await manual.ready();
  start = used();
  for (let i = 0; i < count; i++) manual.received('psa-webhooks-v2', ids[i]!);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const withReceived = used() - start;

  // Settled elsewhere: ten rounds of as many ids, a flush after each; the oldest past maxRememberedIds are forgotten.
  const web = offlineClient(live);
  await web.ready();
  start = used();
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < count; i++) web.received('psa-webhooks-v2', { partnerId: ids[i]!.partnerId, messageId: `${round}/${ids[i]!.messageId}` });
    await web.flush();
  }
  const elsewhere = used() - start;

  process.stdout.write(
    `${JSON.stringify({ count, inFlight, runExtraMb: (withRun - hostOnly) / MB, receivedMb: withReceived / MB, hostOnlyMb: hostOnly / MB, manualInFlight: manual.status.inFlight, elsewhereMb: elsewhere / MB, elsewhereInFlight: web.status.inFlight })}\n`,
  );
  process.exit(0);
}
void main();
