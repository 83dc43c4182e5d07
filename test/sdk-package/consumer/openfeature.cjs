// The OpenFeature provider from its own subpath, CommonJS.
const { OpenFeature } = require('@openfeature/server-sdk');
const { RollcallProvider } = require('@rollcall/sdk/openfeature');

const provider = new RollcallProvider({ url: process.env.ROLLCALL_URL, sdkKey: process.env.ROLLCALL_SDK_KEY });
OpenFeature.setProviderAndWait(provider)
  .then(() => OpenFeature.getClient().getStringDetails(process.env.ROLLOUT, 'old', { targetingKey: 'partner-of' }))
  .then(async (details) => {
    await OpenFeature.close();
    console.log(JSON.stringify({ value: details.value, reason: details.reason }));
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
