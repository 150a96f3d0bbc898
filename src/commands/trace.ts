// `nacl-router trace FILE --packet SPEC`: send one described packet through the router's own
// code (src/control/trace.ts) and print each step with file:line and the final verdict.
// Exit 0 after a trace (accept or drop), 1 invalid configuration, 2 usage, I/O or bad spec.

import type { Command } from '../cli.js';
import { formatDiagnostics, loadConfig } from '../config/index.js';
import { readSource } from '../config/source.js';
import { parsePacketSpec, tracePacket } from '../control/trace.js';

export const command: Command = {
  summary: 'show the path one described packet takes through the router (offline)',
  help: `usage: nacl-router trace FILE --packet SPEC

Sends one packet through the router FILE configures, offline: the same stack, connection
tracking, NAT and chains as \`nacl-router run\`, on in-process links. Prints the steps it takes:
conntrack, prerouting of the Iface it arrives on, the local-or-forward decision and route,
input or Gateway.forward, TTL, postrouting of the egress Iface, source NAT, what the router
sent back (ICMP errors, echo replies) and the verdict (why it was dropped). Every condition,
block, log, NAT rewrite and verdict of the rules is printed with its FILE:LINE.

SPEC (one argument, quote it):
  tcp A.B.C.D:PORT > A.B.C.D:PORT [flags]   e.g. [syn] or [syn,ack] (default [syn])
  udp A.B.C.D:PORT > A.B.C.D:PORT
  icmp A.B.C.D > A.B.C.D [type NAME|N] [code N]   (default type echo-request)
  ip A.B.C.D > A.B.C.D proto N
followed by any of:
  in IFACE      the Iface it arrives on (default: the one whose network holds the source)
  ct STATE      new (default); established (the trace sets up the connection first);
                related (for ICMP errors: they quote a UDP datagram of a connection the
                trace sets up)
  ttl N, len N, id N, dscp N, ecn N, frag N (fragment offset: > 0 = non-first fragment),
  seq N, ackseq N, window N

example:
  nacl-router trace nacl.txt --packet 'tcp 10.0.0.5:40000 > 192.168.0.10:443 in outside [syn] ct new'

exit status: 0 traced, 1 invalid configuration, 2 usage, I/O error or bad packet spec`,
  async run(args: string[]): Promise<number> {
    const files: string[] = [];
    let specText: string | null = null;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--packet' || a === '-p') {
        if (i + 1 >= args.length) return usage('--packet needs a packet description');
        specText = args[++i]!;
      } else if (a.startsWith('--packet=')) specText = a.slice('--packet='.length);
      else if (a.startsWith('-') && a !== '-') return usage(`unknown option ${a}`);
      else files.push(a);
    }
    if (files.length !== 1 || specText === null) return usage('need FILE and --packet SPEC');
    const spec = parsePacketSpec(specText);
    if (typeof spec === 'string') {
      process.stderr.write(`nacl-router trace: bad packet spec: ${spec}\n`);
      return 2;
    }
    const src = await readSource(files[0]!);
    if ('error' in src) {
      process.stderr.write(`nacl-router trace: ${src.error}\n`);
      return 2;
    }
    const { model, diagnostics } = loadConfig(src.text, src.name);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (!model) {
      process.stderr.write(formatDiagnostics(errors, src.text));
      return 1;
    }
    const out = tracePacket(model, spec);
    if ('error' in out) {
      process.stderr.write(`nacl-router trace: ${out.error}\n`);
      return 2;
    }
    process.stdout.write(out.lines.join('\n') + '\n');
    return 0;
  },
};

function usage(msg: string): number {
  process.stderr.write(`nacl-router trace: ${msg}\nusage: nacl-router trace FILE --packet SPEC   (nacl-router trace --help)\n`);
  return 2;
}
