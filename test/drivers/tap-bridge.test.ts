// Two TAPs bridged in JS (frames copied from one link's receive batch straight into the other
// link's send), each kernel side in its own namespace on one subnet: ping, HTTP (curl against
// python's http.server) and iperf3 TCP cross it, with vnet_hdr (TSO super-frames > 1514 bytes
// must appear) and without. The measured iperf3 rate is printed as a test comment.

import t from 'tap';
import { VIRTIO_NET_HDR_GSO_TCPV4 } from '../../stack/wire/virtio.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TapLink } from '../../drivers/tap.js';
import { Lab } from '../../lab/netlab.js';
import { bridge } from '../../lab/l2.js';

for (const vnetHdr of [true, false]) {
  t.test(`JS L2 bridge between two TAPs (vnetHdr ${vnetHdr})`, async (t) => {
    const tag = vnetHdr ? 'v' : 'p';
    const lab = new Lab(t, `br${tag}`);
    const nsA = lab.ns('a'), nsB = lab.ns('b');
    const devA = lab.name('tba'), devB = lab.name('tbb');
    const dir = lab.tmpdir('http');
    writeFileSync(join(dir, 'blob'), Buffer.alloc(1 << 20, 0x5a));
    const a = new TapLink({ name: devA, vnetHdr });
    t.teardown(() => a.close());
    const b = new TapLink({ name: devB, vnetHdr });
    t.teardown(() => b.close());
    lab.attach(devA, nsA, '10.202.0.1/24');
    lab.attach(devB, nsB, '10.202.0.2/24');
    const st = bridge(a, b);

    const ping = await lab.run(nsA, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.202.0.2']);
    t.equal(ping.code, 0, 'ping across the bridge');

    lab.spawn(nsB, 'python3', ['-m', 'http.server', '-b', '10.202.0.2', '-d', dir, '8080']);
    await lab.listening(nsB, [8080]);
    const curl = await lab.run(nsA, 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', 'http://10.202.0.2:8080/blob']);
    t.equal(curl.stdout, `200 ${1 << 20}`, 'curl fetched 1 MiB across');

    lab.spawn(nsB, 'iperf3', ['-s', '-1', '-B', '10.202.0.2', '-p', '5201']);
    await lab.listening(nsB, [5201]);
    st.maxFrame = 0;
    const ip = await lab.run(nsA, 'iperf3', ['-c', '10.202.0.2', '-p', '5201', '-t', '2', '-J'], { timeoutMs: 30000 });
    t.equal(ip.code, 0, 'iperf3 completed');
    const bps = (JSON.parse(ip.stdout) as { end: { sum_received: { bits_per_second: number } } })
      .end.sum_received.bits_per_second;
    t.ok(bps > 1e7, 'iperf3 moved data');
    t.comment(`iperf3 TCP across the JS bridge, vnetHdr ${vnetHdr}: ${(bps / 1e9).toFixed(2)} Gbit/s; ` +
      `largest frame ${st.maxFrame} B; a ${JSON.stringify(a.stats)} b ${JSON.stringify(b.stats)}`);
    if (vnetHdr) t.ok(st.maxFrame > 1514, `TSO super-frames crossed as one unit (max ${st.maxFrame})`);
    if (vnetHdr) {
      t.equal(st.gsoType & 0x7f, VIRTIO_NET_HDR_GSO_TCPV4, 'its virtio header says TCPv4 GSO');
      t.ok(st.gsoSize > 500 && st.gsoSize <= 1460, `with the MSS as gso_size (${st.gsoSize})`);
    }
    else t.ok(st.maxFrame <= 1514, `no frame above 1514 without vnet_hdr (max ${st.maxFrame})`);
  });
}
