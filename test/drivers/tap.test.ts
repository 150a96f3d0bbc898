// TapLink against the real kernel: a TAP whose kernel side lives in a namespace the test
// creates, answered in JS (ARP + ICMP echo) so `ping` from the namespace succeeds, with and
// without vnet_hdr; plus controls (MTU, up/down, MACs, ifindex) and the error paths (bad
// names and options, missing privileges, no /dev/net/tun, closed links).

import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TapLink } from '../../drivers/tap.js';
import { macFromName, nativeAddon } from '../../drivers/native.js';
import { Lab, sh } from '../../lab/netlab.js';
import { startResponder } from '../../lab/l2.js';
import { formatMac as macStr } from '../../stack/wire/ethernet.js';
import { parseIpv4 } from '../../stack/wire/ipv4.js';

const pid = process.pid;

t.test('errors carry the errno text and never crash', async (t) => {
  t.throws(() => new TapLink({ name: 'bad/name' }), { message: /^TUNSETIFF: Invalid argument/, code: 'EINVAL' });
  t.throws(() => new TapLink({ name: 'x'.repeat(20) }), { message: /File name too long/, code: 'ENAMETOOLONG' });
  t.throws(() => new TapLink({ name: '' }), { message: /Invalid argument/ });
  t.throws(() => new TapLink({ name: `tq${pid}`, batch: 0 }), RangeError);
  t.throws(() => new TapLink({ name: `tq${pid}`, mac: '02:00:00:zz:00:01' }), /bad MAC address/);
  t.throws(() => new TapLink({ name: `tq${pid}`, headroom: 8 }), RangeError);
  t.throws(() => sh('ip', ['link', 'show', `tq${pid}`]), 'no device left behind by failed opens');
  t.throws(() => nativeAddon().ifGetMtu(`nx${pid}`), { message: new RegExp(`^SIOCGIFMTU nx${pid}: No such device`), code: 'ENODEV' });
  t.throws(() => new (nativeAddon() as unknown as { openTap: unknown; NativeLink: new () => unknown }).NativeLink(), /openTap/);
});

t.test('not root: a clear error naming the missing privilege', async (t) => {
  // Dropping the effective uid clears the effective capabilities; restoring it to 0 brings
  // them back from the permitted set (real and saved uid stay 0).
  process.seteuid!(65534);
  let err: unknown;
  try {
    new TapLink({ name: `tn${pid}` }).close();
  } catch (e) {
    err = e;
  } finally {
    process.seteuid!(0);
  }
  t.match(err, {
    message: /^(open \/dev\/net\/tun: Permission denied|TUNSETIFF: Operation not permitted) \(nacl-router needs root or CAP_NET_ADMIN\)$/,
  });
});

t.test('no /dev/net/tun: a clear error (child process in its own mount namespace)', async (t) => {
  const child = fileURLToPath(new URL('./tap-notun-child.ts', import.meta.url));
  const node = [process.execPath, ...process.execArgv.filter((a) => a.includes('typescript')), child, `tn${pid}`];
  const out = await new Promise<string>((resolve) => {
    execFile('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$@"', 'sh', ...node],
      { encoding: 'utf8', timeout: 60000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
      (_err, stdout) => resolve(stdout.trim()));
  });
  t.equal(out, 'TAP unavailable: /dev/net/tun does not exist (load the tun module: modprobe tun)');
});

t.test('open, controls, idempotent close', async (t) => {
  const name = `tq${pid}`;
  const link = new TapLink({ name, vnetHdr: false });
  t.teardown(() => link.close());
  t.equal(link.name, name);
  t.equal(link.vnetHdr, false);
  t.ok(link.ifindex > 0, 'ifindex');
  t.equal(link.ifindex, nativeAddon().ifIndex(name));
  t.equal(link.mtu, 1500);
  t.same(link.mac, macFromName(name), 'default router MAC derived from the name');
  t.equal(link.mac[0]! & 3, 2, 'locally administered unicast');
  t.equal(macStr(link.kernelMac()), macStr(nativeAddon().ifGetMac(name)), 'kernel-side MAC through the fd');
  t.notSame(link.kernelMac(), link.mac, 'router MAC differs from the kernel MAC');
  t.throws(() => link.setMtu(10), { message: `SIOCSIFMTU ${name}: Invalid argument` });
  t.equal(link.mtu, 1500, 'MTU unchanged by a refused set');
  link.setMtu(1400);
  t.equal(link.mtu, 1400);
  t.equal(nativeAddon().ifGetMtu(name), 1400);
  link.setUp(true);
  t.match(sh('ip', ['link', 'show', name]), /UP/);
  link.setUp(false);
  t.throws(() => new TapLink({ name }), { code: 'EBUSY', message: /TUNSETIFF: Device or resource busy/ }, 'second open of a single-queue TAP');
  link.close();
  link.close();
  const off = new Int32Array([64]);
  const len = new Int32Array([60]);
  t.equal(link.send(new Uint8Array(256), off, len, 1), 0, 'send after close writes nothing');
  t.equal(link.stats.txDropped, 1);
  t.throws(() => link.start(() => {}), /closed/);
  t.throws(() => sh('ip', ['link', 'show', name]), 'device gone after close');

  const named = new TapLink({ name: 'naclt%d', mac: '02:00:00:00:00:01' });
  t.match(named.name, /^naclt\d+$/, 'kernel-chosen name');
  t.equal(macStr(named.mac), '02:00:00:00:00:01');
  named.close();
});

for (const vnetHdr of [true, false]) {
  t.test(`ping from a namespace answered in JS (vnetHdr ${vnetHdr})`, async (t) => {
    const tag = vnetHdr ? 'v' : 'p';
    const lab = new Lab(t, `tap${tag}`);
    const ns = lab.ns('h');
    const name = lab.name('tp');
    const link = new TapLink({ name, vnetHdr });
    t.teardown(() => link.close());
    lab.attach(name, ns, '10.201.1.2/24');
    t.throws(() => link.setUp(true), { code: 'ENODEV' }, 'by-name controls fail once the device moved');
    t.equal(link.kernelMac().length, 6, 'fd still answers after the move');
    const seen = startResponder(link, parseIpv4('10.201.1.1')!);
    const r = await lab.run(ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.201.1.1']);
    t.equal(r.code, 0, `ping: ${r.stdout}${r.stderr}`);
    t.match(r.stdout, /3 received/);
    t.ok(seen.arp >= 1, 'ARP answered');
    t.equal(seen.echo, 3, 'three echo requests');
    t.ok(link.stats.rxPackets >= 4 && link.stats.txPackets >= 4, 'counters');
    const neigh = sh('ip', ['-n', ns, 'neigh', 'show', '10.201.1.1']);
    t.match(neigh, macStr(link.mac), 'namespace learned the router MAC');
  });
}
