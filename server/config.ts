/**
 * Configuration is environment only, parsed once. `loadConfig` throws a
 * ConfigError naming the offending variable; `main.ts` prints it and exits.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function parseCidr(text: string): Cidr | null {
  const [address = '', prefixText, ...rest] = text.trim().split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? String(max)) || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const port = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a whole number from 0 to 65535')
  .transform(Number)
  .pipe(z.number().max(65535, 'must be a whole number from 0 to 65535'));

const dbUrl = z
  .string()
  .regex(/^(file:|libsql:\/\/|https?:\/\/|wss?:\/\/)/, 'must be a file: path or a libsql://, http(s):// or ws(s):// URL');

const cidrList = z.string().transform((text, ctx) => {
  const cidrs: Cidr[] = [];
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const cidr = parseCidr(part);
    if (cidr === null) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(part.trim())} is not a CIDR such as 127.0.0.0/8` });
      return z.NEVER;
    }
    cidrs.push(cidr);
  }
  return cidrs;
});

/** A whole number from `min` to `max` (`unit`, e.g. " of seconds", in the message), as an environment string. */
function wholeNumber(min: number, max: number, fallback: number, unit = '') {
  const message = `must be a whole number${unit} from ${min} to ${max}`;
  return z
    .string()
    .regex(new RegExp(`^\\d{1,${String(max).length}}$`), message)
    .transform(Number)
    .pipe(z.number().min(min, message).max(max, message))
    .default(fallback);
}

export const configSchema = z.object({
  PORT: port.default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  ROLLCALL_DB_URL: dbUrl.default('file:./data/rollcall.db'),
  ROLLCALL_DB_AUTH_TOKEN: z.string().optional(),
  ROLLCALL_ADMIN_KEY: z.string().min(32, 'must be at least 32 characters').max(512, 'must be at most 512 characters').optional(),
  ROLLCALL_CALLBACK_ALLOW: cidrList.default([]),
  ROLLCALL_CALLBACK_CONCURRENCY: wholeNumber(0, 64, 4),
  ROLLCALL_METRICS_PUBLIC: z.enum(['0', '1'], 'must be 0 or 1').default('0'),
  ROLLCALL_SETTLED_RETENTION_SECONDS: wholeNumber(60, 604_800, 3600, ' of seconds'),
  ROLLCALL_RETENTION_INTERVAL_SECONDS: wholeNumber(1, 3_600, 60, ' of seconds'),
  ROLLCALL_INGEST_GROUP_MAX: wholeNumber(1, 256, 64),
});

export interface Config {
  port: number;
  host: string;
  dbUrl: string;
  dbAuthToken: string | undefined;
  adminKey: string | undefined;
  callbackAllow: Cidr[];
  /** Callback attempts in flight at once in this process; 0: this process sends none. */
  callbackConcurrency: number;
  /** `/metrics` without a key. */
  metricsPublic: boolean;
  /** How long settled ledger ids are kept (retention). */
  settledRetentionSeconds: number;
  /** Report batches committed together at most (1: each alone). */
  ingestGroupMax: number;
  /** How often retention sweeps. */
  retentionIntervalSeconds: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Variables whose values must never be echoed back in an error. */
const SECRET = new Set(['ROLLCALL_ADMIN_KEY', 'ROLLCALL_DB_AUTH_TOKEN']);

export function loadConfig(env: Record<string, string | undefined>): Config {
  // An empty variable (`PORT= npm start`) means "use the default".
  const present = Object.fromEntries(
    Object.keys(configSchema.shape)
      .filter((name) => env[name] !== undefined && env[name] !== '')
      .map((name) => [name, env[name]]),
  );
  const result = configSchema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const shown = SECRET.has(name) ? '' : ` (got ${JSON.stringify(present[name])})`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = result.data;
  return {
    port: c.PORT,
    host: c.HOST,
    dbUrl: c.ROLLCALL_DB_URL,
    dbAuthToken: c.ROLLCALL_DB_AUTH_TOKEN,
    adminKey: c.ROLLCALL_ADMIN_KEY,
    callbackAllow: c.ROLLCALL_CALLBACK_ALLOW,
    callbackConcurrency: c.ROLLCALL_CALLBACK_CONCURRENCY,
    metricsPublic: c.ROLLCALL_METRICS_PUBLIC === '1',
    settledRetentionSeconds: c.ROLLCALL_SETTLED_RETENTION_SECONDS,
    ingestGroupMax: c.ROLLCALL_INGEST_GROUP_MAX,
    retentionIntervalSeconds: c.ROLLCALL_RETENTION_INTERVAL_SECONDS,
  };
}
