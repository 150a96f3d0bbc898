// Raw driver rate, no namespaces: 60-byte frames pumped from a PacketLink on a TAP's kernel
// side into the TapLink (pk2tap) or the other way (tap2pk), sender and receiver sharing this
// one thread. Run as root (npm run build:tools first):
//   node build/bench/tap-raw.js [pk2tap|tap2pk] [seconds]

import { PacketLink } from '../drivers/packet.js';
import { TapLink } from '../drivers/tap.js';
import { sh } from '../lab/proc.js';
import { BROADCAST_MAC, emitEthernet } from '../stack/wire/ethernet.js';

/** IEEE local experimental EtherType: the kernel ignores it. */
const ETHERTYPE_TEST = 0x88b5;

const dir = process.argv[2] ?? 'pk2tap';
const secs = Number(process.argv[3] ?? '3');
const name = `rb${process.pid}`;
const tap = new TapLink({ name, vnetHdr: false });
tap.setUp(true);
sh('sysctl', ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`, `net.ipv4.conf.${name}.forwarding=0`]);
const pk = new PacketLink({ name, vnetHdr: false });

const N = 64;
const buf = new Uint8Array(N * 128);
const off = new Int32Array(N);
const len = new Int32Array(N);
for (let i = 0; i < N; i++) {
  const o = i * 128 + 64;
  off[i] = o;
  len[i] = 60;
  emitEthernet(buf, o, BROADCAST_MAC, 0, Uint8Array.of(2, 0, 0, 0, 0, 0), 0, ETHERTYPE_TEST);
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
