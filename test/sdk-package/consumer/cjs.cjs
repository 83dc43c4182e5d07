// A plain CommonJS service using the installed @rollcall/sdk: require(), no top-level await.
const { createClient, SDK_VERSION } = require('@rollcall/sdk');

async function main() {
  const rollout = process.env.ROLLOUT;
  const partnerId = 'partner-cjs';
  const rc = createClient({ url: process.env.ROLLCALL_URL, sdkKey: process.env.ROLLCALL_SDK_KEY, flushIntervalMs: 60_000 });
  await rc.ready();

  const path = rc.path(rollout, partnerId);
  const contexts = [];
  const result = await rc.run(rollout, { partnerId, messageId: 'cjs-run-1' }, {
    old: (ctx) => (contexts.push(ctx), { type: 'invoice.paid', amount: 10 }),
    new: (ctx) => (contexts.push(ctx), { type: 'invoice.created', amount: 10 }),
  });
  rc.received(rollout, { partnerId, messageId: 'cjs-split-1' });
  rc.processed(rollout, { partnerId, messageId: 'cjs-split-1' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await rc.flush();
  await rc.close();
  console.log(JSON.stringify({ version: SDK_VERSION, path, result, contexts, status: rc.status }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
