/**
 * When a field is learned as noise: once it has differed in this many double
 * runs. The ingester stamps `learned_at` at that moment (store.ts `addNoise`);
 * health judges the field as noise from then on (health/noise.ts).
 */
export const NOISE_MIN_DIFFERING = 2;
