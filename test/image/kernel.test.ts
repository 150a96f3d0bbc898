// The NIC modules' load order comes from modules.dep: every module after all it depends on,
// each once; built-in and missing drivers are told apart.
import t from 'tap';
import { moduleLoadOrder, NIC_MODULES, parseKernelSpec } from '../../src/image/kernel.js';

// The lines Debian's 6.1 cloud kernel has for these drivers (depmod output, trimmed).
const DEP = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/vmxnet3/vmxnet3.ko:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
`;

t.test('dependencies first, each module once', async (t) => {
  const { load, notes } = moduleLoadOrder(DEP, '', NIC_MODULES);
  const names = load.map((p) => p.split('/').at(-1));
  t.same(names, ['virtio_ring.ko', 'virtio.ko', 'virtio_pci_modern_dev.ko', 'virtio_pci_legacy_dev.ko', 'virtio_pci.ko', 'failover.ko', 'net_failover.ko', 'virtio_net.ko', 'vmxnet3.ko']);
  t.same(notes, []);
  for (const [i, p] of load.entries()) {
    const deps = DEP.split('\n').find((l) => l.startsWith(p + ':'))!.split(':')[1].trim().split(/\s+/).filter(Boolean);
    for (const d of deps) t.ok(load.indexOf(d) < i, `${d} before ${p}`);
  }
  t.notOk(names.includes('virtio_blk.ko'), 'nothing that was not asked for');
});

t.test('built-in and missing drivers', async (t) => {
  const noVmxnet = DEP.split('\n').filter((l) => !l.includes('vmxnet3') && !l.startsWith('kernel/drivers/virtio/virtio_pci.ko:')).join('\n');
  const r = moduleLoadOrder(noVmxnet, 'kernel/drivers/virtio/virtio_pci.ko\n', NIC_MODULES);
  t.same(r.notes, ['virtio_pci: built into the kernel', 'vmxnet3: not in this kernel (skipped)']);
  t.notOk(r.load.some((p) => p.endsWith('virtio_pci.ko')), 'built-in module not loaded');
  t.throws(() => moduleLoadOrder('kernel/a.ko:\n', '', ['virtio_net']), /the kernel has no module virtio_net/);
  t.throws(() => moduleLoadOrder('kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n', '', ['a']), /dependency cycle/);
  const compressed = moduleLoadOrder('kernel/drivers/net/virtio-net.ko.xz:\n', '', ['virtio_net']);
  t.same(compressed.load, ['kernel/drivers/net/virtio-net.ko.xz'], 'compressed modules and - vs _ in names');
});

t.test('kernel package specs', async (t) => {
  t.same(parseKernelSpec('linux-image-6.1.0-57-cloud-amd64=6.1.192-3'), { package: 'linux-image-6.1.0-57-cloud-amd64', version: '6.1.192-3' });
  t.same(parseKernelSpec('linux-image-cloud-amd64'), { package: 'linux-image-cloud-amd64', version: null });
});
