import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { formatCidr, freeSubnet, hostRoutes, overlaps, parseCidr } from '../../src/backend/docker/subnets.ts';

const c = (s: string) => parseCidr(s)!;

describe('workspace subnets', () => {
  it('parses, formats and compares IPv4 CIDRs', () => {
    assert.equal(formatCidr(c('10.213.7.9/16')), '10.213.0.0/16');
    assert.equal(parseCidr('10.0.0.0/33'), undefined);
    assert.equal(parseCidr('fd00::/64'), undefined);
    assert.ok(overlaps(c('10.0.0.0/8'), c('10.5.0.0/26')));
    assert.ok(!overlaps(c('10.0.0.0/26'), c('10.0.0.64/26')));
  });
  it('takes the first /26 that overlaps no network and no route, and reuses freed ones', () => {
    const pool = c('10.213.0.0/16');
    assert.equal(formatCidr(freeSubnet(pool, 26, [])!), '10.213.0.0/26');
    assert.equal(formatCidr(freeSubnet(pool, 26, [c('10.213.0.0/26'), c('10.213.0.64/27')])!), '10.213.0.128/26');
    assert.equal(formatCidr(freeSubnet(pool, 26, [c('10.213.0.0/24')])!), '10.213.1.0/26');
    assert.equal(freeSubnet(c('10.213.0.0/25'), 26, [c('10.213.0.0/26'), c('10.213.0.64/26')]), undefined);
    // After a lost race: any free one, never a taken one.
    for (let i = 0; i < 50; i++) assert.equal(formatCidr(freeSubnet(c('10.213.0.0/24'), 26, [c('10.213.0.0/26'), c('10.213.0.128/25')], true)!), '10.213.0.64/26');
    // 1,024 networks fit in a /16 of /26s.
    const taken: NonNullable<ReturnType<typeof parseCidr>>[] = [];
    for (let i = 0; i < 1024; i++) taken.push(freeSubnet(pool, 26, taken)!);
    assert.equal(new Set(taken.map(formatCidr)).size, 1024);
    assert.equal(freeSubnet(pool, 26, taken), undefined);
  });
  it("reads this machine's routes, less the default route", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'jinad-routes-')), 'route');
    writeFileSync(file, 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\ntun0\t0000D50A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n');
    assert.deepEqual(hostRoutes(file).map(formatCidr), ['10.213.0.0/16']);
  });
});
