/**
 * An OpenFeature server provider. Each rollout is a string flag whose value
 * is the partner's path (`old`, `new` or `shadow`); the evaluation context's
 * `targetingKey` is the partner id. Reasons and error codes follow the
 * OpenFeature specification; a new snapshot emits ConfigurationChanged.
 */
import {
  ErrorCode,
  OpenFeatureEventEmitter,
  ProviderEvents,
  StandardResolutionReasons,
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
} from '@openfeature/server-sdk';
import { createClient, type ClientOptions, type RollcallClient } from './client.ts';

function mismatch<T>(defaultValue: T, type: string): ResolutionDetails<T> {
  return {
    value: defaultValue,
    reason: StandardResolutionReasons.ERROR,
    errorCode: ErrorCode.TYPE_MISMATCH,
    errorMessage: `Rollcall flags are strings (old, new or shadow), not ${type}`,
  };
}

/** The tracking events that feed Rollcall's accounting; any other name is left to other providers. */
export const TRACKING_EVENTS = ['rollcall.received', 'rollcall.processed', 'rollcall.failed'] as const;

const idOf = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined);

export class RollcallProvider implements Provider {
  readonly metadata = { name: 'rollcall' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  readonly client: RollcallClient;
  private readonly owned: boolean;
  private readonly unsubscribe: (() => void)[] = [];

  /** Give it a client you manage, or the options for one it creates and closes with itself. */
  constructor(clientOrOptions: RollcallClient | ClientOptions) {
    this.owned = !('path' in clientOrOptions);
    this.client = 'path' in clientOrOptions ? clientOrOptions : createClient(clientOrOptions);
    this.unsubscribe.push(
      this.client.on('change', (change) => this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: change.changed })),
      this.client.on('error', (error) => {
        if (this.client.status.stopped) this.events.emit(ProviderEvents.Error, { message: error.message, errorCode: ErrorCode.PROVIDER_FATAL });
      }),
    );
  }

  async initialize(): Promise<void> {
    await this.client.ready();
  }

  async onClose(): Promise<void> {
    for (const stop of this.unsubscribe.splice(0)) stop();
    if (this.owned) await this.client.close();
  }

  async resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    if (this.client.snapshot === null) {
      return { value: defaultValue, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.PROVIDER_NOT_READY };
    }
    const partnerId = context.targetingKey;
    if (typeof partnerId !== 'string' || partnerId === '') {
      return { value: defaultValue, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.TARGETING_KEY_MISSING, errorMessage: 'set targetingKey to the partner id' };
    }
    const evaluation = this.client.evaluate(flagKey, partnerId);
    if (!evaluation.known) {
      return { value: defaultValue, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.FLAG_NOT_FOUND, errorMessage: `no rollout ${flagKey}` };
    }
    const reason = evaluation.stale
      ? StandardResolutionReasons.STALE
      : evaluation.state === 'draft' || evaluation.state === 'reverted'
        ? StandardResolutionReasons.DISABLED
        : evaluation.state === 'completed'
          ? StandardResolutionReasons.STATIC
          : evaluation.cohort === 'pinned'
            ? StandardResolutionReasons.TARGETING_MATCH
            : StandardResolutionReasons.SPLIT;
    return {
      value: evaluation.path,
      variant: evaluation.path,
      reason,
      flagMetadata: { cohort: evaluation.cohort, state: evaluation.state ?? '', version: evaluation.version ?? 0 },
    };
  }

  /**
   * OpenFeature tracking (spec section 6) into the accounting:
   * `client.track('rollcall.received' | 'rollcall.processed' | 'rollcall.failed',
   * { targetingKey: partnerId }, { rollout, messageId, error? })` counts exactly
   * as `received()`, `processed()` and `failed()` do. Incomplete events are
   * ignored, as those methods ignore them: tracking never throws into the host.
   */
  track(trackingEventName: string, context: EvaluationContext, details: TrackingEventDetails): void {
    if (!(TRACKING_EVENTS as readonly string[]).includes(trackingEventName)) return;
    const rollout = details?.rollout;
    const messageId = idOf(details?.messageId);
    const partnerId = idOf(context?.targetingKey);
    if (typeof rollout !== 'string' || messageId === undefined || partnerId === undefined) return;
    const message = { partnerId, messageId };
    if (trackingEventName === 'rollcall.received') this.client.received(rollout, message);
    else if (trackingEventName === 'rollcall.processed') this.client.processed(rollout, message);
    else this.client.failed(rollout, { ...message, error: typeof details.error === 'string' ? details.error : undefined });
  }

  async resolveBooleanEvaluation(_flagKey: string, defaultValue: boolean): Promise<ResolutionDetails<boolean>> {
    return mismatch(defaultValue, 'booleans');
  }

  async resolveNumberEvaluation(_flagKey: string, defaultValue: number): Promise<ResolutionDetails<number>> {
    return mismatch(defaultValue, 'numbers');
  }

  async resolveObjectEvaluation<T extends JsonValue>(_flagKey: string, defaultValue: T): Promise<ResolutionDetails<T>> {
    return mismatch(defaultValue, 'objects');
  }
}
