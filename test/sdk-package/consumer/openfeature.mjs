// The OpenFeature provider from its own subpath, ESM.
import { OpenFeature } from '@openfeature/server-sdk';
import { RollcallProvider } from '@rollcall/sdk/openfeature';

const provider = new RollcallProvider({ url: process.env.ROLLCALL_URL, sdkKey: process.env.ROLLCALL_SDK_KEY });
await OpenFeature.setProviderAndWait(provider);
const details = await OpenFeature.getClient().getStringDetails(process.env.ROLLOUT, 'old', { targetingKey: 'partner-of' });
await OpenFeature.close();
console.log(JSON.stringify({ value: details.value, reason: details.reason }));
