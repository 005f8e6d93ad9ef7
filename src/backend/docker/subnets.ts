/**
 * Workspace subnets from a pool. The Docker Engine's default address pools hold about 30 bridge
 * networks; a daemon with one network per workspace needs hundreds. So each workspace network
 * gets a small subnet (a /26 by default) out of a pool the config names, skipping every subnet
 * that overlaps a network on the engine or a route of this machine (so a VPN or a LAN is never
 * shadowed). A deleted workspace's subnet is free again, because only what exists is skipped.
 */
import { readFileSync } from 'node:fs';
import { fail } from '../../errors.ts';

export interface Cidr {
  base: number;
  bits: number;
}

/** `10.213.0.0/16` → {base, bits}; undefined for anything else (IPv6 is not pooled). */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const ip = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  return { base: (bits === 0 ? 0 : (ip & (~0 << (32 - bits)))) >>> 0, bits };
}

export const formatCidr = ({ base, bits }: Cidr) => `${base >>> 24}.${(base >>> 16) & 255}.${(base >>> 8) & 255}.${base & 255}/${bits}`;

const size = (c: Cidr) => 2 ** (32 - c.bits);
export const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + size(b) && b.base < a.base + size(a);

/** IPv4 routes of this machine, less the default route (which overlaps everything). */
export function hostRoutes(file = '/proc/net/route'): Cidr[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // not Linux: the engine's own networks are still skipped
  }
  const le = (hex: string) => Buffer.from(hex, 'hex').readUInt32LE(0);
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^[0-9A-F]{8}$/i.test(f[1]!) && /^[0-9A-F]{8}$/i.test(f[7]!))
    .map((f) => {
      const mask = le(f[7]!);
      return { base: (le(f[1]!) & mask) >>> 0, bits: popcount(mask) };
    })
    .filter((c) => c.bits > 0);
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}

/**
 * A subnet of `prefix` bits in `pool` that overlaps nothing in `taken` (linear in both): the
 * first one, or with `random`, any free one (after losing a race, so two daemons do not keep
 * choosing the same one).
 */
export function freeSubnet(pool: Cidr, prefix: number, taken: Cidr[], random = false): Cidr | undefined {
  const step = 2 ** (32 - prefix);
  const count = size(pool) / step;
  const blocked = new Uint8Array(count);
  const end = pool.base + size(pool);
  for (const t of taken) {
    if (!overlaps(pool, t)) continue;
    const from = Math.floor((Math.max(t.base, pool.base) - pool.base) / step);
    const to = Math.ceil((Math.min(t.base + size(t), end) - pool.base) / step);
    blocked.fill(1, from, to);
  }
  let free = blocked.indexOf(0);
  if (free >= 0 && random) {
    const all: number[] = [];
    blocked.forEach((b, i) => b || all.push(i));
    free = all[Math.floor(Math.random() * all.length)]!;
  }
  return free < 0 ? undefined : { base: (pool.base + free * step) >>> 0, bits: prefix };
}

export function poolExhausted(pool: Cidr, prefix: number): Error {
  return fail(
    'network_pool_exhausted',
    `no free /${prefix} subnet is left in the workspace network pool ${formatCidr(pool)}: delete workspaces, or give networkPool a larger subnet in jinad.config.ts`,
  );
}
