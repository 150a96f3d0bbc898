import t from 'tap';
import { checksum, csumUpdate16, csumUpdate32, partialUpdate32, pseudoSum, sum16 } from '../../../stack/wire/checksum.js';
import { ECHO, UDP_OPT } from './fixtures.js';

t.test('RFC 1071 over the fixtures', async (t) => {
  t.equal(sum16(ECHO, 14, 20), 0xffff, 'valid header sums to 0xffff');
  const b = ECHO.slice(14, 34); b[10] = 0; b[11] = 0;
  t.equal(checksum(b, 0, 20), 0x9c7a);
  t.equal(sum16(new Uint8Array([1]), 0, 1), 0x100, 'odd length pads with zero');
});

t.test('RFC 1624 incremental updates equal a full recompute', async (t) => {
  let seed = 1;
  const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
  let bad = 0;
  for (let i = 0; i < 300; i++) {
    const b = ECHO.slice(14, 34);
    const old32 = ((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0;
    const neu = rnd();
    b[12] = neu >>> 24; b[13] = neu >>> 16; b[14] = neu >>> 8; b[15] = neu;
    const inc = csumUpdate32((ECHO[24] << 8) | ECHO[25], old32, neu);
    b[10] = 0; b[11] = 0;
    const full = checksum(b, 0, 20);
    if (!(inc === full || (inc === 0xffff && full === 0) || (inc === 0 && full === 0xffff))) bad++;
    const w = rnd() & 0xffff;
    const inc16 = csumUpdate16(full, (b[4] << 8) | b[5], w);
    b[4] = w >>> 8; b[5] = w;
    const full16 = checksum(b, 0, 20);
    if (!(inc16 === full16 || ((inc16 ^ full16) === 0xffff && (inc16 === 0 || full16 === 0)))) bad++;
  }
  t.equal(bad, 0, '300 random 32-bit and 16-bit rewrites');
});

t.test('pseudo-header and partial (offloaded) checksum', async (t) => {
  const u = UDP_OPT.slice(38);
  t.equal(sum16(u, 0, 13, pseudoSum(0x0a000001, 0x0a000002, 17, 13)), 0xffff);
  const p = pseudoSum(0x0a000001, 0x0a000002, 17, 13);
  t.equal(partialUpdate32(p, 0x0a000001, 0xc0a80001), pseudoSum(0xc0a80001, 0x0a000002, 17, 13));
});
