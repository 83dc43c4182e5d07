import { afterEach, describe, expect, it } from 'vitest';
import { createAddressPolicy, embeddedV4 } from '../../../server/callbacks/address-policy.ts';
import { createSender } from '../../../server/callbacks/sender.ts';
import { loadConfig } from '../../../server/config.ts';
import { startReceiver, type Receiver } from '../../helpers/receiver.ts';

const allowLoopback = () => createAddressPolicy(loadConfig({ ROLLCALL_CALLBACK_ALLOW: '127.0.0.0/8' }).callbackAllow);

describe('the address policy', () => {
  it('never allows link-local, metadata, multicast or unspecified addresses, even when listed', () => {
    const policy = createAddressPolicy(loadConfig({ ROLLCALL_CALLBACK_ALLOW: '0.0.0.0/0,::/0' }).callbackAllow);
    for (const address of ['169.254.169.254', '169.254.1.1', '100.100.100.200', 'fd00:ec2::254', 'fe80::1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::', 'ff02::1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe']) {
      expect(policy.check(address), address).toMatchObject({ allowed: false });
    }
  });

  it('allows loopback and private ranges only when ROLLCALL_CALLBACK_ALLOW lists them', () => {
    const closed = createAddressPolicy([]);
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '::1', 'fd12::1', '::ffff:127.0.0.1', '64:ff9b::a00:1', '2002:a00:1::1']) {
      const verdict = closed.check(address);
      expect(verdict, address).toMatchObject({ allowed: false });
      expect(verdict.allowed === false && verdict.reason).toContain('ROLLCALL_CALLBACK_ALLOW');
    }
    const loopback = allowLoopback();
    expect(loopback.check('127.0.0.1')).toEqual({ allowed: true });
    expect(loopback.check('::ffff:127.0.0.1')).toEqual({ allowed: true });
    expect(loopback.check('10.1.2.3')).toMatchObject({ allowed: false });
    expect(loopback.check('::1')).toMatchObject({ allowed: false });
  });

  it('allows public addresses', () => {
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '172.32.0.1', '11.0.0.1']) {
      expect(createAddressPolicy([]).check(address), address).toEqual({ allowed: true });
    }
  });

  it('reads the IPv4 address inside mapped, NAT64 and 6to4 addresses', () => {
    expect(embeddedV4('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(embeddedV4('::FFFF:a9fe:a9fe')).toBe('169.254.169.254');
    expect(embeddedV4('64:ff9b::7f00:1')).toBe('127.0.0.1');
    expect(embeddedV4('2002:c0a8:101::1')).toBe('192.168.1.1');
    expect(embeddedV4('2001:db8::1')).toBeNull();
  });
});

describe('an attempt', () => {
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('never connects to a host whose every address is refused, and says why', async () => {
    receiver = await startReceiver();
    const port = new URL(receiver.url).port;
    const send = createSender({ policy: createAddressPolicy([]), resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    const result = await send(`http://hooks.example:${port}/x`, '{}', {});
    expect(result.status).toBeNull();
    expect(result.address).toBeNull();
    expect(result.error).toMatch(/refused: hooks\.example .*ROLLCALL_CALLBACK_ALLOW/);
    const metadata = await send('http://169.254.169.254/latest/meta-data/', '{}', {});
    expect(metadata.error).toMatch(/metadata/);
    expect(receiver.received).toHaveLength(0);
  });

  it('connects to the allowed address it checked, sending the original Host', async () => {
    receiver = await startReceiver({ status: 200, body: 'ok' });
    const port = new URL(receiver.url).port;
    const send = createSender({ policy: allowLoopback(), resolve: async () => [{ address: '169.254.169.254', family: 4 }, { address: '127.0.0.1', family: 4 }] });
    const result = await send(`http://hooks.example:${port}/x`, '{"a":1}', { 'webhook-id': 'msg_1' });
    expect(result).toMatchObject({ status: 200, address: '127.0.0.1', excerpt: 'ok', error: null });
    expect(receiver.received[0]!.headers.host).toBe(`hooks.example:${port}`);
    expect(receiver.received[0]!.headers['webhook-id']).toBe('msg_1');
    expect(receiver.received[0]!.body).toBe('{"a":1}');
  });

  it('does not follow redirects', async () => {
    const target = await startReceiver();
    receiver = await startReceiver({ status: 302, headers: { location: target.url } });
    const result = await createSender({ policy: allowLoopback() })(receiver.url, '{}', {});
    expect(result.status).toBe(302);
    expect(result.error).toMatch(/redirects are not followed/);
    expect(target.received).toHaveLength(0);
    await target.close();
  });

  it('gives up at its deadline when the receiver never answers', async () => {
    receiver = await startReceiver({ status: 200, hang: true });
    const result = await createSender({ policy: allowLoopback(), timeoutMs: 200 })(receiver.url, '{}', {});
    expect(result.status).toBeNull();
    expect(result.error).toMatch(/no answer within 200 ms/);
    expect(result.latencyMs).toBeGreaterThanOrEqual(150);
  });

  it('keeps only the first kilobyte of a response and reads Retry-After', async () => {
    receiver = await startReceiver({ status: 503, headers: { 'retry-after': '120' }, body: 'x'.repeat(5000) });
    const result = await createSender({ policy: allowLoopback() })(receiver.url, '{}', {});
    expect(result.status).toBe(503);
    expect(result.excerpt).toHaveLength(1024);
    expect(result.retryAfterMs).toBe(120_000);
  });
});
