import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';

describe('configuration from the environment', () => {
  it('has the contract defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 8787,
      host: '127.0.0.1',
      dbUrl: 'file:./data/rollcall.db',
      dbAuthToken: undefined,
      adminKey: undefined,
      callbackAllow: [],
      callbackConcurrency: 4,
      metricsPublic: false,
      settledRetentionSeconds: 3600,
      ingestGroupMax: 64,
      retentionIntervalSeconds: 60,
    });
  });

  it('reads every variable, treating an empty one as unset', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      ROLLCALL_DB_URL: 'libsql://rollcall.example.turso.io',
      ROLLCALL_DB_AUTH_TOKEN: 'token',
      ROLLCALL_ADMIN_KEY: 'k'.repeat(32),
      ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8, 10.0.0.0/8,::1/128',
      ROLLCALL_CALLBACK_CONCURRENCY: '0',
      ROLLCALL_SETTLED_RETENTION_SECONDS: '300',
      ROLLCALL_INGEST_GROUP_MAX: '1',
      ROLLCALL_RETENTION_INTERVAL_SECONDS: '5',
      UNRELATED: 'ignored',
    });
    expect(config).toMatchObject({ port: 9000, host: '0.0.0.0', dbUrl: 'libsql://rollcall.example.turso.io', dbAuthToken: 'token', callbackConcurrency: 0, settledRetentionSeconds: 300, ingestGroupMax: 1, retentionIntervalSeconds: 5 });
    expect(config.callbackAllow).toEqual([
      { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    expect(loadConfig({ PORT: '' }).port).toBe(8787);
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', 'eighty', /PORT: must be a whole number/],
    ['PORT', '70000', /PORT: must be a whole number/],
    ['PORT', '-1', /PORT/],
    ['ROLLCALL_DB_URL', 'postgres://x', /ROLLCALL_DB_URL: must be a file: path/],
    ['ROLLCALL_ADMIN_KEY', 'short', /ROLLCALL_ADMIN_KEY: must be at least 32 characters$/m],
    ['ROLLCALL_CALLBACK_ALLOW', '127.0.0.0/33', /ROLLCALL_CALLBACK_ALLOW: "127.0.0.0\/33" is not a CIDR/],
    ['ROLLCALL_CALLBACK_ALLOW', 'localhost', /ROLLCALL_CALLBACK_ALLOW/],
    ['ROLLCALL_CALLBACK_CONCURRENCY', '65', /ROLLCALL_CALLBACK_CONCURRENCY: must be a whole number from 0 to 64/],
    ['ROLLCALL_METRICS_PUBLIC', 'yes', /ROLLCALL_METRICS_PUBLIC: must be 0 or 1/],
    ['ROLLCALL_SETTLED_RETENTION_SECONDS', '59', /ROLLCALL_SETTLED_RETENTION_SECONDS: must be a whole number of seconds from 60/],
    ['ROLLCALL_SETTLED_RETENTION_SECONDS', 'an hour', /ROLLCALL_SETTLED_RETENTION_SECONDS: must be a whole number of seconds/],
    ['ROLLCALL_RETENTION_INTERVAL_SECONDS', '0', /ROLLCALL_RETENTION_INTERVAL_SECONDS: must be a whole number of seconds from 1 to 3600/],
    ['ROLLCALL_INGEST_GROUP_MAX', '0', /ROLLCALL_INGEST_GROUP_MAX: must be a whole number from 1 to 256/],
    ['ROLLCALL_INGEST_GROUP_MAX', '257', /ROLLCALL_INGEST_GROUP_MAX: must be a whole number from 1 to 256/],
    ['ROLLCALL_CALLBACK_CONCURRENCY', 'many', /ROLLCALL_CALLBACK_CONCURRENCY: must be a whole number/],
  ];
  for (const [name, value, message] of bad) {
    it(`stops on ${name}=${value} with a message naming it`, () => {
      expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(message);
    });
  }

  it('never echoes a secret in its message', () => {
    try {
      loadConfig({ ROLLCALL_ADMIN_KEY: 'secret-but-short' });
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-but-short');
    }
    expect.assertions(1);
  });
});
