/**
 * Which addresses a callback may reach. Link-local, metadata, multicast,
 * unspecified and reserved addresses never; loopback, private, shared
 * (CGNAT) and other special-use ranges only when `ROLLCALL_CALLBACK_ALLOW`
 * lists a range holding them; public addresses always. IPv4 inside IPv6
 * (mapped, NAT64, 6to4) is judged as the IPv4 address it carries.
 */
import { BlockList, isIP } from 'node:net';
import type { Cidr } from '../config.ts';

type Range = [address: string, prefix: number];

const NEVER_V4: Range[] = [
  ['0.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['100.100.100.200', 32], // Alibaba Cloud metadata
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const NEVER_V6: Range[] = [
  ['::', 128],
  ['fe80::', 10], // link-local
  ['fd00:ec2::254', 128], // AWS metadata over IPv6
  ['ff00::', 8], // multicast
];
const PRIVATE_V4: Range[] = [
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
];
const PRIVATE_V6: Range[] = [
  ['::1', 128],
  ['fc00::', 7],
  ['2001:db8::', 32],
  ['100::', 64],
];

function blockList(v4: Range[], v6: Range[]): BlockList {
  const list = new BlockList();
  for (const [address, prefix] of v4) list.addSubnet(address, prefix, 'ipv4');
  for (const [address, prefix] of v6) list.addSubnet(address, prefix, 'ipv6');
  return list;
}

const never = blockList(NEVER_V4, NEVER_V6);
const privateRanges = blockList(PRIVATE_V4, PRIVATE_V6);

function hexToV4(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** The IPv4 address an IPv6 address carries (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
export function embeddedV4(address: string): string | null {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) return hexToV4(parseInt(hex[1]!, 16), parseInt(hex[2]!, 16));
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(:|$)/.exec(lower);
  if (sixToFour) return hexToV4(parseInt(sixToFour[1]!, 16), parseInt(sixToFour[2]!, 16));
  return null;
}

/** A URL's host as an address or name: an IPv6 literal without its brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

export type Verdict = { allowed: true } | { allowed: false; reason: string };

export interface AddressPolicy {
  check(address: string): Verdict;
}

export function createAddressPolicy(allow: Cidr[]): AddressPolicy {
  const allowed = new BlockList();
  for (const cidr of allow) allowed.addSubnet(cidr.address, cidr.prefix, cidr.family);

  return {
    check(raw: string): Verdict {
      const address = embeddedV4(raw) ?? raw;
      const family = isIP(address) === 4 ? 'ipv4' : isIP(address) === 6 ? 'ipv6' : null;
      if (family === null) return { allowed: false, reason: `${raw} is not an IP address` };
      if (never.check(address, family)) {
        return { allowed: false, reason: `${raw} is a link-local, metadata, multicast or reserved address, which callbacks never reach` };
      }
      if (privateRanges.check(address, family) && !allowed.check(address, family)) {
        return { allowed: false, reason: `${raw} is a loopback or private address not listed in ROLLCALL_CALLBACK_ALLOW` };
      }
      return { allowed: true };
    },
  };
}
