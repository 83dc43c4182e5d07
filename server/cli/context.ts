/** What every command gets from the global options: the API client and the output. */
import type { Command } from 'commander';
import { createClient, type ApiClient } from './client.ts';
import { createOutput, type Output } from './output.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8787';

export interface GlobalOptions {
  url: string;
  key?: string;
  json?: boolean;
}

export interface Context {
  client: ApiClient;
  out: Output;
}

export function contextOf(command: Command): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  return {
    client: createClient({ url: options.url, key: options.key }),
    out: createOutput({ json: options.json === true, stdout: process.stdout, stderr: process.stderr, env: process.env }),
  };
}

/** An action that receives the context first, then commander's usual arguments. */
export function withContext<A extends unknown[]>(action: (ctx: Context, ...args: A) => Promise<void>) {
  return async function (this: Command, ...args: A): Promise<void> {
    await action(contextOf(this), ...args);
  };
}
