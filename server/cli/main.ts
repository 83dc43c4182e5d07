/**
 * `rollcall`: the command line over the HTTP API. Each command group lives in
 * its own file; this one builds the program and turns every failure into an
 * exit code (see errors.ts) and one message — or, with --json, one JSON body.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { registerApply } from './apply-command.ts';
import { registerCallbacks } from './callbacks.ts';
import { DEFAULT_URL } from './context.ts';
import { CliError, EXIT } from './errors.ts';
import { registerLifecycle } from './lifecycle.ts';
import { registerOperations } from './operations.ts';
import { registerKeys } from './keys.ts';
import { registerServe } from './serve.ts';
import { registerStatus } from './status.ts';
import { registerWait } from './wait.ts';

const EXIT_HELP = `
Exit codes:
  0  done
  1  refused by the server (4xx), or the rollout was reverted while \`wait\` watched
  2  bad usage or a bad file; nothing was sent
  3  the server could not be reached (or answered 502/503/504)
  4  \`wait\` timed out

Configuration: --url or ROLLCALL_URL (default ${DEFAULT_URL}); --key or ROLLCALL_KEY
(prefer the variable: other users of the machine can see a command line).`;

/** The package's version, from package.json two levels up (server/cli/) or three (its build, dist/server/cli/). */
function version(): string {
  const file = ['../../package.json', '../../../package.json'].map((p) => new URL(p, import.meta.url)).find((url) => existsSync(url));
  return file === undefined ? 'unknown' : (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('rollcall')
    .description('Rollcall from a terminal or a pipeline: rollouts as code, status, lifecycle, operations.')
    .addOption(new Option('--url <url>', 'the Rollcall server').env('ROLLCALL_URL').default(DEFAULT_URL))
    .addOption(new Option('--key <key>', 'an admin key (or a read key, for reading)').env('ROLLCALL_KEY'))
    .option('--json', "print the server's JSON instead of tables")
    .version(version(), '-V, --version', 'print the version of rollcall')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_HELP);
  registerApply(program);
  registerStatus(program);
  registerLifecycle(program);
  registerWait(program);
  registerKeys(program);
  registerOperations(program);
  registerCallbacks(program);
  registerServe(program);
  return program;
}

function exitCodeOf(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
  return EXIT.usage;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return exitCodeOf(error); // commander has printed the message
    if (error instanceof CliError) {
      if (program.opts().json === true && error.body !== undefined) process.stdout.write(`${JSON.stringify(error.body, null, 2)}\n`);
      else process.stderr.write(`rollcall: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`rollcall: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.refused;
  }
}

process.exitCode = await main(process.argv);
