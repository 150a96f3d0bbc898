// End to end (npm run test:image): the guest image built from examples/seed.nacl and booted
// under QEMU with two NICs, whose TAP devices are moved into an outside and an inside host
// namespace once QEMU has them open; the seed firewall's checks then run from those hosts
// against the router inside the guest. Booted twice: from the kernel and initramfs (virtio
// NICs), and from the vmdk disk image (syslinux, no -kernel; the inside NIC is a vmxnet3).
// Ctrl-C stops the guest cleanly.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, ROOT, sh, skipReason, waitFor } from '../../lab/netlab.js';
import { seedChecks, seedScenario } from '../netns/seed-scenario.js';

const BIN = join(ROOT, 'bin', 'nacl-router.js');
const SEED = join(ROOT, 'examples', 'seed.nacl');
const hasQemu = sh('sh', ['-c', 'command -v qemu-system-x86_64 || true']).trim() !== '';
const why = skipReason() ?? (hasQemu ? null : 'needs qemu-system-x86_64 (sh scripts/deps.sh)');

if (why) {
  t.plan(0, `guest image: ${why}`);
} else {
  const lab = new Lab(t, 'gi');
  const dir = lab.tmpdir('image');
  const taps = [lab.name('gvo'), lab.name('gvi')];
  // The disk boot puts the inside NIC on VMware's vmxnet3 (the image loads both drivers).
  const writeVm = (insideDevice: 'virtio' | 'vmxnet3') => writeFileSync(join(dir, 'vm.json'), JSON.stringify({
    description: 'seed firewall, test',
    config: SEED,
    memory: 512,
    net: taps.map((tap, i) => ({ device: i === 1 ? insideDevice : 'virtio', mac: `52:54:00:aa:00:0${i}`, tap })),
  }, null, 2));
  writeVm('virtio');

  t.test('image builds kernel, initramfs and a vmdk disk from examples/seed.nacl', async (t) => {
    const out = sh(process.execPath, [BIN, 'image', SEED, '-o', dir, '--format', 'vmdk'], { timeout: 900_000 });
    t.comment(out.trim());
    for (const f of ['vmlinuz', 'initrd.img', 'disk.vmdk', 'image.json', 'vm.json']) t.ok(existsSync(join(dir, f)), f);
    const m = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8'));
    t.match(m.kernel.package, /^linux-image-.*-cloud-amd64$/, `kernel ${m.kernel.package} ${m.kernel.version}`);
    t.ok(m.kernel.modules.includes('virtio_net.ko'), 'virtio_net module inside');
    t.ok(m.kernel.modules.indexOf('virtio_net.ko') > m.kernel.modules.indexOf('net_failover.ko'), 'loaded after its dependency net_failover');
    t.equal(m.disk.format, 'vmdk', 'disk format');
    t.comment(`sizes: kernel ${m.bytes.kernel}, initramfs ${m.bytes.initrd}, disk ${m.disk.bytes}; built in ${m.buildSeconds} s`);
    t.match(sh('qemu-img', ['info', join(dir, 'disk.vmdk')]), /file format: vmdk/, 'qemu-img reads the vmdk');
  });

  for (const media of ['kernel', 'disk'] as const) {
    t.test(`seed firewall inside the guest booted from ${media === 'kernel' ? 'kernel + initramfs, virtio NICs' : 'the vmdk disk (syslinux), virtio + vmxnet3 NICs'}`, async (t) => {
      writeVm(media === 'kernel' ? 'virtio' : 'vmxnet3');
      const hosts = new Lab(t, media === 'kernel' ? 'gk' : 'gd');
      const started = Date.now();
      const boot = hosts.spawn(null, process.execPath, [BIN, 'boot', dir, ...(media === 'disk' ? ['--disk'] : [])], { ...process.env, NO_COLOR: '1' });
      const alive = () => {
        if (boot.exitCode !== null) throw new Error(`boot exited (${boot.exitCode}):\n${boot.out()}`);
        return true;
      };
      await waitFor('QEMU to open the TAP devices', () => alive() && /NICs attached/.test(boot.out()), 120_000);
      // Only now: QEMU opens `ifname=` devices in its own namespace.
      const scenario = await seedScenario(hosts, taps[0], taps[1]);
      await waitFor('the router inside the guest', () => alive() && /INFO: running/.test(boot.out()), 180_000);
      t.comment(`router running ${((Date.now() - started) / 1000).toFixed(1)} s after boot started`);
      t.match(boot.out(), /init: NIC 0: eth0 52:54:00:aa:00:00/, 'NIC 0 is the first NIC of vm.json');
      // Under emulation the first packets through the router wait for its code to be compiled
      // (hundreds of ms each, more on a busy host): the checks start once a ping has passed.
      await waitFor('a first ping through the guest', () => alive() && hosts.status(scenario.outside, 'ping', ['-c', '1', '-W', '3', '-I', '10.55.1.1', '192.168.0.10']) === 0, 120_000);
      await seedChecks(t, hosts, scenario);

      boot.kill('SIGINT');
      await waitFor('boot to exit', () => boot.exitCode !== null, 30_000);
      t.equal(boot.exitCode, 0, 'boot exits 0 after Ctrl-C');
      t.match(boot.out(), /stopped; counters/, 'the router stopped and printed its counters');
      t.match(boot.out(), /guest powered off \(router exited with status 0\)/, 'the guest powered off cleanly');
    });
  }

  t.test('Ctrl-C before anything moved: the guest stops and boot deletes its TAP devices', async (t) => {
    writeVm('virtio');
    const boot = lab.spawn(null, process.execPath, [BIN, 'boot', dir], { ...process.env, NO_COLOR: '1' });
    await waitFor('QEMU to open the TAP devices', () => /NICs attached/.test(boot.out()) || boot.exitCode !== null, 120_000);
    for (const tap of taps) t.ok(lab.linkExists(tap), `${tap} exists while the guest runs`);
    boot.kill('SIGINT');
    await waitFor('boot to exit', () => boot.exitCode !== null, 30_000);
    t.equal(boot.exitCode, 0, 'exit status 0');
    for (const tap of taps) t.notOk(lab.linkExists(tap), `${tap} deleted`);
  });
}
