// Raw driver rate, no namespaces: 60-byte frames pumped from a PacketLink on a TAP's kernel
// side into the TapLink (pk2tap) or the other way (tap2pk), sender and receiver sharing this
// one thread. Not a test (not *.test.ts); run as root:
//   node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs \
//     test/drivers/tap-raw-bench.ts [pk2tap|tap2pk] [seconds]

import { execFileSync } from 'node:child_process';
import { TapLink } from '../../drivers/tap.js';
import { PacketLink } from '../../drivers/packet.js';

const dir = process.argv[2] ?? 'pk2tap';
const secs = Number(process.argv[3] ?? '3');
const name = `rb${process.pid}`;
const tap = new TapLink({ name, vnetHdr: false });
tap.setUp(true);
execFileSync('sysctl', ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`, `net.ipv4.conf.${name}.forwarding=0`]);
const pk = new PacketLink({ name, vnetHdr: false });

const N = 64;
const buf = new Uint8Array(N * 128);
const off = new Int32Array(N);
const len = new Int32Array(N);
for (let i = 0; i < N; i++) {
  const o = i * 128 + 64;
  off[i] = o;
  len[i] = 60;
  buf.fill(0xff, o, o + 6);
  buf[o + 6] = 2;
  buf[o + 12] = 0x88; // IEEE local experimental ethertype: ignored by the kernel
  buf[o + 13] = 0xb5;
}
const [tx, rx] = dir === 'pk2tap' ? [pk, tap] : [tap, pk];
let received = 0;
let batches = 0;
rx.start((b) => {
  received += b.count;
  batches++;
});
let sent = 0;
let stop = false;
const pump = (): void => {
  if (stop) return;
  for (let k = 0; k < 4; k++) sent += tx.send(buf, off, len, N);
  setImmediate(pump);
};
pump();
setTimeout(() => {
  stop = true;
  setTimeout(() => {
    const k = secs * 1e3;
    console.log(`${dir}: sent ${(sent / k).toFixed(0)} kpps, received ${(received / k).toFixed(0)} kpps, ` +
      `avg batch ${(received / Math.max(1, batches)).toFixed(1)}, tx dropped ${tx.stats.txDropped}`);
    tap.close();
    pk.close();
  }, 200);
}, secs * 1000);
