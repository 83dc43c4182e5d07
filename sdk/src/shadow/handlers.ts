/** What `run()` is handed and what its calls settle with: the handlers' types, shared by the runner and its shadow runs. */
import type { CompareOptions } from './compare.ts';

export interface HandlerContext {
  /** Which path this call is. */
  path: 'old' | 'new';
  /** True when the result will be compared and discarded: avoid committing side effects. */
  shadow: boolean;
}

export type Handler<T> = (context: HandlerContext) => T | Promise<T>;

export interface Handlers<T> {
  old: Handler<T>;
  new: Handler<T>;
}

export interface MessageRef {
  partnerId: string;
  messageId: string;
}

export interface RunCompareOptions extends CompareOptions {
  /** Share (0..1) of compared messages on which the old path runs twice to learn noisy fields. Off by default: it runs old side effects twice. */
  learnNoise?: number;
}

export interface RunOptions {
  /** A handler still running after this many ms is counted as failed and the call rejects. */
  timeoutMs?: number;
  /** Comparison options for this call (the client's defaults otherwise). */
  compare?: RunCompareOptions;
}

export class RollcallTimeoutError extends Error {
  constructor(ms: number) {
    super(`the handler did not settle within ${ms} ms`);
    this.name = 'RollcallTimeoutError';
  }
}

export type Outcome = { ok: true; value: unknown; ms: number } | { ok: false; error: unknown; ms: number; timedOut: boolean };
