// The same declarations from a CommonJS file under `module: nodenext` (require conditions).
import { createClient, type Path } from '@rollcall/sdk';
import { RollcallProvider } from '@rollcall/sdk/openfeature';

async function main(): Promise<void> {
  const rc = createClient({ url: 'http://127.0.0.1:8787', sdkKey: 'rc_sdk_example' });
  await rc.ready();
  const path: Path = rc.path('psa-webhooks-v2', 'partner-42');
  // @ts-expect-error a path is old, new or shadow
  const wrong: 'newest' = rc.path('psa-webhooks-v2', 'partner-42');
  console.log(path, wrong, new RollcallProvider({ url: 'http://127.0.0.1:8787', sdkKey: 'k' }).metadata.name);
  await rc.close();
}

void main();
