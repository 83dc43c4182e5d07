/**
 * "step 2 of 4": where a rollout is, counted from 1, as people are told it.
 * The API's `step` is the plan's index (0 for the first step). The server
 * words its own messages the same way (rollouts/model.ts `stepLabel`); the
 * command line keeps this copy so that it imports nothing of the server, and
 * a test holds the two to one wording.
 */
export function stepLabel(step: number | null, planLength: number): string {
  return step === null ? 'not started' : `step ${step + 1} of ${planLength}`;
}
