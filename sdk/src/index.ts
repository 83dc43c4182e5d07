/**
 * Rollcall's SDK: the only entry point. See docs/sdk.md and sdk/README.md.
 *
 *   const rc = createClient({ url, sdkKey })
 *   await rc.ready()
 *   rc.path('psa-webhooks-v2', partnerId)             // 'old' | 'new' | 'shadow'
 *   await rc.run('psa-webhooks-v2', { partnerId, messageId }, { old, new })
 */
export { createClient, SDK_NAME, SDK_VERSION, RollcallHttpError } from './client.ts';
export type { ClientOptions, ClientEvents, ClientStatus, Evaluation, Logger, RollcallClient } from './client.ts';
export type { ReplayHandler, ReplayMessage } from './replay/replay.ts';
export { RollcallTimeoutError } from './shadow/run.ts';
export type { Handler, HandlerContext, Handlers, MessageRef, RunCompareOptions, RunOptions } from './shadow/run.ts';
export type { CompareOptions } from './shadow/compare.ts';
export type { ChangeEvent, RevertEvent, SnapshotSource } from './evaluation/evaluator.ts';
export type { ConfigSnapshot, RolloutSnapshot, CohortSnapshot, PinSnapshot, Path, RolloutState } from '@rollcall/protocol';
export { murmur3, positionOf } from '@rollcall/protocol';
