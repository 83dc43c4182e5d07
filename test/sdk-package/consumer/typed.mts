// Compiled by the consumer test with the consumer's own tsc (strict, skipLibCheck off),
// under `module: nodenext` and `moduleResolution: bundler`, with and without the DOM lib.
import { createClient, RollcallTimeoutError, type ClientOptions, type ConfigSnapshot, type Path, type RevertEvent } from '@rollcall/sdk';
import { RollcallProvider } from '@rollcall/sdk/openfeature';

const options: ClientOptions = { url: 'http://127.0.0.1:8787', sdkKey: 'rc_sdk_example', backupPath: './snapshot.json', flushIntervalMs: 500 };
const rc = createClient(options);
await rc.ready();

const path: Path = rc.path('psa-webhooks-v2', 'partner-42');
// @ts-expect-error a path is old, new or shadow: the declarations are not `any`
if (path === 'newest') throw new Error('unreachable');

const total: { total: number } = await rc.run('psa-webhooks-v2', { partnerId: 'partner-42', messageId: 'm-1' }, {
  old: ({ shadow }) => ({ total: shadow ? 0 : 1 }),
  new: async ({ path: which }) => ({ total: which === 'new' ? 2 : 0 }),
}, { timeoutMs: 1_000, compare: { ignore: ['$.meta.requestId'], unorderedArrays: true, learnNoise: 0.01 } });

rc.received('psa-webhooks-v2', { partnerId: 'partner-42', messageId: 'm-2' });
rc.processed('psa-webhooks-v2', { partnerId: 'partner-42', messageId: 'm-2' });
rc.failed('psa-webhooks-v2', { partnerId: 'partner-42', messageId: 'm-3', error: new RollcallTimeoutError(1_000) });
const off = rc.on('revert', (event: RevertEvent) => {
  const cohort: string | null = event.cohort;
  console.log(event.rollout, cohort, event.reason);
});
rc.on('error', (error) => console.log(error.message));
rc.onReplay('psa-webhooks-v2', async ({ messageId, partnerId }) => console.log(messageId, partnerId));
const snapshot: ConfigSnapshot = { version: 1, rollouts: [] };
const buffered: number = rc.status.buffered;
console.log(total, snapshot, buffered, rc.evaluate('psa-webhooks-v2', 'partner-42').cohort);
off();
await rc.flush();
await rc.close();

const provider = new RollcallProvider({ url: 'http://127.0.0.1:8787', sdkKey: 'rc_sdk_example' });
console.log(provider.metadata.name);
