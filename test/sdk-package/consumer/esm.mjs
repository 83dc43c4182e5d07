// A plain ESM service using the installed @rollcall/sdk: no loader, no TypeScript.
import { createClient, SDK_VERSION } from '@rollcall/sdk';

const rollout = process.env.ROLLOUT;
const partnerId = 'partner-esm';
const rc = createClient({ url: process.env.ROLLCALL_URL, sdkKey: process.env.ROLLCALL_SDK_KEY, flushIntervalMs: 60_000 });
await rc.ready();

const path = rc.path(rollout, partnerId);
const contexts = [];
const result = await rc.run(rollout, { partnerId, messageId: 'esm-run-1' }, {
  old: (ctx) => (contexts.push(ctx), { type: 'invoice.paid', amount: 10 }),
  new: (ctx) => (contexts.push(ctx), { type: 'invoice.created', amount: 10 }),
});
rc.received(rollout, { partnerId, messageId: 'esm-split-1' });
rc.processed(rollout, { partnerId, messageId: 'esm-split-1' });
// The shadow comparison finishes in a later turn of the event loop; give it one.
await new Promise((resolve) => setTimeout(resolve, 100));
await rc.flush();
await rc.close();
console.log(JSON.stringify({ version: SDK_VERSION, path, result, contexts, status: rc.status }));
