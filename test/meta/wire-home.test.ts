// Wire knowledge has one home: stack/wire/. Outside it, no code reads or writes header bytes at
// a numeric offset (`buf[off + 9]`, `dv.getUint16(p.l4 + 4)`, `frame[14]`): it names the field
// through the constants and views of stack/wire/. The byte-fixture tests of the views
// (test/stack/wire/) are exempt: they check the views against independent bytes. And the small
// helpers every module would otherwise write again exist once.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCAN = ['src', 'stack', 'filters', 'drivers', 'grammar', 'bench', 'lab', 'test'];
const EXEMPT = ['stack/wire/', 'test/stack/wire/', 'test/meta/wire-home.test.ts'];

function files(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (n === 'node_modules' || n === 'build') continue;
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.ts$/.test(n) && !n.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const SOURCES = SCAN.flatMap((d) => files(join(ROOT, d)))
  .map((p) => ({ path: relative(ROOT, p), text: readFileSync(p, 'utf8') }))
  .filter((f) => !EXEMPT.some((e) => f.path.startsWith(e)));

// Names code uses for the start of a header or frame.
const BASE = String.raw`(?:p\.)?(?:off|o|l3|l4|o3|o4|in3|in4|ih|ic|fo|h|hdr|ip|l2|eth)`;
// Names of byte buffers holding frames.
const BYTES = String.raw`(?:p\.buf|buf|b|bytes|frame|f|g|slab|out|pkt)`;
const FRAMES = String.raw`(?:p\.buf|buf|bytes|frame|f|slab|pkt)`;
// Any name of a byte buffer (\`this.buf\`, \`rxBuf\`, \`data\`): typed-array tables indexed by an
// entry offset (\`keys[o + 1]\`) are not header reads.
const BUFFER = String.raw`(?<![\w])(?:[\w.]*(?:buf|Buf)|b|bytes|frame|f|g|slab|out|pkt|data|d|payload|dgram)`;
const RAW = [
  { what: 'DataView access at a numeric offset', re: new RegExp(String.raw`\.(?:get|set)(?:Uint|Int)(?:8|16|32)\(\s*(?:[\w.]+\s*\+\s*)?\d+\s*[,)]`) },
  { what: 'byte at header start + number', re: new RegExp(String.raw`${BUFFER}\[\s*${BASE}\s*\+\s*\d+\s*\]`) },
  { what: 'first byte of a header read bare', re: new RegExp(String.raw`\b${BYTES}\[\s*(?:p\.)?(?:l3|l4|o3|o4|in3|in4)\s*\]`) },
  { what: 'frame byte at a numeric index', re: new RegExp(String.raw`(?<![\w.])${FRAMES}\[\s*\d+\s*\]`) },
  { what: 'byte at a sum of numbers', re: /\w\[\s*\d+(?:\s*\+\s*\d+)+\s*\]/ },
];

t.test('no header bytes at raw offsets outside stack/wire/', async (t) => {
  const hits: string[] = [];
  for (const f of SOURCES) {
    f.text.split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '').replace(/^\s*\/?\*.*$/, '');
      for (const r of RAW) if (r.re.test(code)) hits.push(`${f.path}:${i + 1}: ${r.what}: ${line.trim()}`);
    });
  }
  t.same(hits, [], `${SOURCES.length} files scanned`);
});

t.test('wire helpers are defined once', async (t) => {
  // A definition of a helper under a name that is the wire module's job.
  const HELPERS: Array<{ what: string; re: RegExp; home: string }> = [
    { what: 'dotted-quad formatter', re: /`\$\{\(?\w+ >>> 24|\[24, 16, 8, 0\]\.map|& 255\)\.join\('\.'\)/, home: 'stack/wire/ipv4.ts' },
    { what: 'dotted-quad parser', re: /\\d\{1,3\}\)\\\.\(\\d\{1,3\}|split\('\.'\)\.(?:map|reduce)/, home: 'stack/wire/ipv4.ts' },
    { what: 'prefix length <-> netmask', re: /<< \(32 - \w+\)|0x80000000 >>> |function (?:prefixOf|maskOf|maskPrefix|prefixMask)\b/, home: 'stack/wire/ipv4.ts' },
    { what: 'MAC text', re: /toString\(16\)\.padStart\(2|function (?:parseMac|formatMac|macStr)\b/, home: 'stack/wire/ethernet.ts' },
    { what: 'protocol numbers', re: /\b(?:const|let)\s+(?:PROTO_)?(?:TCP|UDP|ICMP)\s*=\s*(?:6|17|1)\b|\btcp:\s*6,\s*udp:\s*17\b/, home: 'stack/wire/ipv4.ts' },
    { what: 'TCP flag bits', re: /\b(?:const|let)\s+(?:TH_|TCP_)?(?:SYN|ACK|FIN|RST|PSH)\s*=\s*0x/, home: 'stack/wire/tcp.ts' },
    { what: 'virtio_net_hdr size', re: /\bVNET_HDR_LEN\s*=/, home: 'stack/wire/virtio.ts' },
  ];
  const wire = SCAN.flatMap((d) => files(join(ROOT, d))).map((p) => relative(ROOT, p))
    .filter((p) => p.startsWith('stack/wire/'));
  const all = [...SOURCES, ...wire.map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }))];
  for (const h of HELPERS) {
    const where = all.filter((f) => f.text.split('\n').some((l) => h.re.test(l.replace(/\/\/.*$/, ''))) && f.path !== h.home)
      .map((f) => f.path);
    t.same(where, [], `${h.what}: only in ${h.home}`);
  }
});
