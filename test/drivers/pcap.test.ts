import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryPair } from '../../drivers/memory.js';
import { PcapLink, PcapWriter } from '../../drivers/pcap.js';

const dir = mkdtempSync(join(tmpdir(), `nacl-pcap-${process.pid}-`));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// Ethernet + IPv4 + ICMP echo request (valid checksums).
const ECHO = Buffer.from('0200000000010200000000020800450000241c46400040019c7ac0a80001c0a800c708005435123400016162636465666768', 'hex');

t.test('classic pcap header and records', async (t) => {
  const path = join(dir, 'w.pcap');
  const w = new PcapWriter(path);
  w.write(ECHO, 0, ECHO.length, 1_700_000_000_250);
  w.close();
  const b = readFileSync(path);
  t.equal(b.readUInt32LE(0), 0xa1b2c3d4); t.equal(b.readUInt16LE(4), 2); t.equal(b.readUInt16LE(6), 4);
  t.equal(b.readUInt32LE(20), 1, 'LINKTYPE_ETHERNET');
  t.equal(b.readUInt32LE(24), 1_700_000_000); t.equal(b.readUInt32LE(28), 250_000);
  t.equal(b.readUInt32LE(32), ECHO.length); t.equal(b.readUInt32LE(36), ECHO.length);
  t.same(b.subarray(40), ECHO);
});

t.test('PcapLink captures both directions and tshark reads them', async (t) => {
  const [a, b] = memoryPair('a', Uint8Array.of(2, 0, 0, 0, 0, 1), 'b', Uint8Array.of(2, 0, 0, 0, 0, 2));
  const path = join(dir, 'link.pcap');
  const cap = new PcapLink(a, path);
  let seen = 0;
  cap.start((batch) => { seen += batch.count; });
  b.start(() => {});
  t.equal(cap.name, 'a'); t.equal(cap.mtu, 1500);
  const slab = new Uint8Array(200);
  slab.set(ECHO, 10); slab.set(ECHO, 100);
  t.equal(cap.send(slab, Int32Array.of(10, 100), Int32Array.of(ECHO.length, ECHO.length), 2), 2);
  b.send(slab, Int32Array.of(10), Int32Array.of(ECHO.length), 1);
  a.pump();
  t.equal(seen, 1);
  cap.close();
  const out = execFileSync('tshark', ['-r', path, '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-e', 'icmp.type', '-e', 'ip.checksum.status', '-e', '_ws.expert.message'], { encoding: 'utf8' });
  t.same(out.trim().split('\n').map((l) => l.trimEnd()), ['8\t1', '8\t1', '8\t1'], 'three echo requests with good checksums');
});
