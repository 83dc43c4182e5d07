/** `rollcall serve`: the server, exactly as `npm start` runs it (server/main.ts, configured by the environment). */
import type { Command } from 'commander';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the server and dashboard (configured by PORT, HOST, ROLLCALL_DB_URL, … as with npm start)')
    .action(async () => {
      await import('../main.ts');
    });
}
