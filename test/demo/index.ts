/**
 * `npm run demo`: three incidents replayed against a real server through the
 * SDK, with a timeline as it happens and a summary at the end. Exits 0 when
 * every scenario ended as described, 1 otherwise. `--keep` leaves the server
 * running (with the dashboard) until Ctrl-C.
 */
import { destructiveJob, mislabelledEvents, silentDrops, type Outcome } from './scenarios.ts';
import { log, startWorld } from './world.ts';

const keep = process.argv.includes('--keep');

async function main(): Promise<void> {
  const started = performance.now();
  const world = await startWorld(Number(process.env.PORT ?? 0));
  console.log(`Rollcall demo: a server on a throwaway database, three service instances running the SDK, a kill-switch receiver.`);
  console.log(`Dashboard: ${world.url}/  (sign in with the read key ${world.readKey})\n`);

  const outcomes: Outcome[] = [];
  for (const scenario of [mislabelledEvents, silentDrops, destructiveJob]) {
    const outcome = await scenario(world);
    log(outcome.scenario, outcome.described ? 'ended as described' : 'DID NOT end as described');
    outcomes.push(outcome);
    console.log('');
  }

  const widths = [20, 8, 64];
  const row = (cells: string[]) => cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i]!) : c)).join('  ');
  console.log(row(['scenario', 'as told', 'what happened', 'figures']));
  for (const o of outcomes) console.log(row([o.scenario, o.described ? 'yes' : 'NO', o.happened, o.figures]));
  const ok = outcomes.every((o) => o.described);
  console.log(`\n${ok ? 'All three ended as described' : 'Some scenario did not end as described'} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);

  if (keep) {
    console.log(`\nThe server keeps running: ${world.url}/ — admin key ${world.adminKey}, read key ${world.readKey}. Ctrl-C to stop.`);
    const stop = async () => {
      await world.close();
      process.exit(ok ? 0 : 1);
    };
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
    return;
  }
  await world.close();
  process.exit(ok ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
