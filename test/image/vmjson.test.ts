// vm.json: defaults, the example file, and located errors (FILE:LINE:COL, the line, a caret).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostics } from '../../src/config/diagnostics.js';
import { defaultVmConfig, formatVmConfig, parseVmConfig } from '../../src/image/vmjson.js';

const ROOT = join(import.meta.dirname, '..', '..');

function errors(text: string, nics = 0): string {
  const { vm, diagnostics } = parseVmConfig(text, 'vm.json', nics);
  if (vm !== null) throw new Error(`accepted: ${text}`);
  return formatDiagnostics(diagnostics, text);
}

t.test('vm.json.example is valid and says what it means', async (t) => {
  const text = readFileSync(join(ROOT, 'vm.json.example'), 'utf8');
  const { vm, diagnostics } = parseVmConfig(text, 'vm.json.example');
  t.same(diagnostics, []);
  t.same(vm, {
    description: 'The seed firewall as a guest: NIC 0 outside, NIC 1 inside',
    config: 'examples/seed.nacl',
    memory: 512,
    cpus: 1,
    net: [
      { device: 'virtio', mac: '52:54:00:12:34:56', tap: 'naclvm0' },
      { device: 'virtio', mac: '52:54:00:12:34:57', tap: 'naclvm1' },
    ],
    warmup: false,
  });
});

t.test('defaults: missing keys are filled in, a missing net gets one NIC per link', async (t) => {
  const { vm } = parseVmConfig('{}', 'vm.json', 2);
  t.same(vm, defaultVmConfig(2));
  t.equal(vm!.net[1].tap, 'naclvm1');
  const partial = parseVmConfig('{"net": [{"device": "vmxnet3"}, {"tap": "fw-in"}]}', 'vm.json').vm!;
  t.same(partial.net, [
    { device: 'vmxnet3', mac: '52:54:00:12:34:56', tap: 'naclvm0' },
    { device: 'virtio', mac: '52:54:00:12:34:57', tap: 'fw-in' },
  ]);
});

t.test('formatVmConfig writes what parseVmConfig reads back', async (t) => {
  const vm = { ...defaultVmConfig(3, '../fw.nacl'), kernel: 'linux-image-6.1.0-57-cloud-amd64=6.1.192-3', warmup: true, nodeFlags: ['--max-old-space-size=1024', '--maglev'] };
  const again = parseVmConfig(formatVmConfig(vm), 'vm.json');
  t.same(again.diagnostics, []);
  t.same(again.vm, vm);
});

t.test('syntax errors are located', async (t) => {
  t.equal(errors('{\n  "memory": 512,\n  "cpus": 1,\n}\n'), [
    "vm.json:4:1: error: expected a \"key\" in double quotes",
    '}',
    '^',
    '',
  ].join('\n'));
  t.match(errors('{"memory": 512 "cpus": 1}'), /^vm\.json:1:16: error: expected ',' or '}', found '"'/);
  t.match(errors('{"memory": 0x200}'), /^vm\.json:1:13: error: expected ',' or '}', found 'x'/);
  t.match(errors('{"memory": yes}'), /^vm\.json:1:12: error: expected a value, found 'yes'\n\{"memory": yes\}\n {11}\^~~\n/);
  t.match(errors('{"net": [\n'), /^vm\.json:2:1: error: unexpected end of file: expected a value/);
  t.match(errors('{"description": "abc\n"}'), /^vm\.json:1:17: error: unterminated string/);
  t.match(errors('[1, 2]'), /vm\.json must be a JSON object/);
  t.match(errors('{} {}'), /unexpected text after the JSON value/);
  t.match(errors('['.repeat(100)), /nested too deeply/, 'deep nesting is an error, not a stack overflow');
});

t.test('bad values are located with a hint', async (t) => {
  const text = [
    '{',
    '  "memroy": 512,',
    '  "cpus": 0,',
    '  "memory": 100,',
    '  "warmup": "yes",',
    '  "net": [',
    '    {"device": "e1000", "mac": "52:54:00:12:34", "tap": "this-name-is-too-long"},',
    '    {"mac": "01:00:5e:00:00:01"},',
    '    {"mac": "52:54:00:00:00:01", "tap": "t1"},',
    '    {"mac": "52:54:00:00:00:01", "tap": "t1", "speed": 10},',
    '    "virtio"',
    '  ],',
    '  "kernel": "vmlinuz-6.1",',
    '  "nodeFlags": ["--ok", "rm -rf /", 3]',
    '}',
  ].join('\n');
  const out = errors(text);
  t.match(out, /vm\.json:2:3: error: unknown key 'memroy'\n  "memroy": 512,\n  \^~~~~~~~\n  hint: did you mean 'memory'\?/);
  t.match(out, /vm\.json:3:11: error: 'cpus' must be 1\.\.64 CPUs, got 0/);
  t.match(out, /vm\.json:4:13: error: 'memory' must be 256\.\.65536 MiB, got 100/);
  t.match(out, /vm\.json:5:13: error: 'warmup' must be true or false/);
  t.match(out, /vm\.json:7:16: error: unknown NIC device 'e1000'\n[^\n]*\n {15}\^~~~~~~\n  hint: one of virtio, vmxnet3/);
  t.match(out, /vm\.json:7:32: error: bad MAC address '52:54:00:12:34'/);
  t.match(out, /vm\.json:7:57: error: bad TAP name 'this-name-is-too-long'/);
  t.match(out, /vm\.json:8:13: error: MAC 01:00:5e:00:00:01 is a multicast address/);
  t.match(out, /vm\.json:10:13: error: MAC 52:54:00:00:00:01 is already used by another NIC/);
  t.match(out, /vm\.json:10:41: error: TAP t1 is already used by another NIC/);
  t.match(out, /vm\.json:10:47: error: unknown key 'speed'/);
  t.match(out, /vm\.json:11:5: error: NIC 4 must be an object/);
  t.match(out, /vm\.json:13:13: error: 'kernel' must name a Debian kernel package/);
  t.match(out, /vm\.json:14:25: error: each node option must be a string like "--name" or "--name=value"/);
  t.match(out, /vm\.json:14:37: error: each node option must be/);
});

t.test('a guest needs a NIC', async (t) => {
  t.match(errors('{"net": []}'), /'net' is empty/);
  t.match(errors('{"memory": 512}', 0), /no 'net' list/);
  t.match(errors('{"memory": 512, "memory": 1024}', 1), /duplicate key 'memory'/);
});

t.test('nothing from vm.json can add options to QEMU or words to the init script', async (t) => {
  const { qemuArgs } = await import('../../src/image/qemu.js');
  for (const [text, what] of [
    ['{"net": [{"tap": "a,script=/x"}]}', 'TAP name with a comma'],
    ['{"net": [{"mac": "52:54:00:00:00:01,romfile=/x"}]}', 'MAC with a comma'],
    ['{"net": [{"tap": "t0"}], "nodeFlags": ["--x=1 $(reboot)"]}', 'node flag with a space'],
    ['{"net": [{"tap": "t0"}], "nodeFlags": ["--x;reboot"]}', 'node flag with a semicolon'],
  ]) t.equal(parseVmConfig(text, 'vm.json').vm, null, `${what} rejected`);
  const vm = parseVmConfig('{"net": [{"tap": "t0"}]}', 'vm.json').vm!;
  const args = qemuArgs(vm, { kind: 'disk', file: '/tmp/a,b/disk.vmdk', format: 'vmdk' }, false);
  t.ok(args.includes('file=/tmp/a,,b/disk.vmdk,format=vmdk,if=virtio,readonly=on'), 'a comma in the disk path is escaped');
  t.ok(args.includes('virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,addr=3,romfile='), 'NIC without an option ROM at slot 3');
  t.ok(args.includes('-no-reboot'));
});
