// `nacl-router [run] FILE`: check and compile the configuration (in the build worker, see
// control/reload.ts), open the links, run the router until SIGINT/SIGTERM (then print counters),
// reload the rules on SIGHUP or `ctl reload`.
import { existsSync } from 'node:fs';
import type { Command } from '../cli.js';
import type { Build, RouterConfig } from '../control/build.js';
import type { Link } from '../../drivers/link.js';
import { createLogger, type Logger } from '../log/logger.js';
import { Router, linkKeys, type LinkSpec } from '../router.js';
import { formatIpv4 } from '../../stack/wire/ipv4.js';
import { serveCtl, closeCtl, DEFAULT_CTL } from '../control/ctl.js';
import { renderTemplate, templateLines, type ShowTemplate, type RuleCounters } from '../control/show.js';
import { ReloadManager } from '../control/reload.js';
import { serveMetrics } from '../control/metrics.js';
import { warmUp } from '../warmup.js';
import { OfflineLinks } from '../offline.js';
import { missingNodeFlags } from '../node-flags.js';

const HELP = `usage: nacl-router [run] FILE [options]

Checks FILE, then routes and filters between the links its Ifaces name, until SIGINT or SIGTERM
(which print the counters). SIGHUP (or \`nacl-router ctl reload\`) reloads FILE: the new rules are
read, checked and compiled in a worker thread while the old ones keep forwarding, then swapped
in between two packet batches; connections, NAT state and the counters of unchanged rules are
kept (interfaces and routes cannot change without a restart). Every reload is logged with its
duration, rule count and forwarding pause.

Each Iface \`index: N\` is link N; by default a TAP device nacl<N> is created for it.
options:
  --link N=tap:NAME      use (or create) TAP device NAME for index N
  --link N=packet:IF     attach to the existing interface IF with AF_PACKET
  --link N=nic:IF        the same on a NIC the router owns (a guest's): the router uses the
                         NIC's own MAC address
                         (N may also be a MAC address, for Ifaces indexed by MAC)
  --pcap N=FILE          write every frame link N receives and sends to FILE (classic pcap)
  --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics
  --no-offload           open TAP devices without vnet_hdr/TSO offloads
  --no-warmup            skip the JIT warm-up (the router's own rules and paths run on
                         in-process links before the real links open; faster start, but
                         the first burst of traffic then meets unoptimized code)
  --busy-poll            poll mode: never sleep waiting for frames (lowest latency; keeps one
                         core 100% busy, so pin the router to a core of its own)
  --ctl PATH             control socket for \`nacl-router ctl\` (default ${DEFAULT_CTL});
                         --ctl none disables it
  --log-level LEVEL      trace, debug, info (default), warn, error
  -h, --help             this help`;

interface RunArgs { file: string | null; links: Map<string, LinkSpec>; offload: boolean; busyPoll?: boolean; warmup?: boolean; level?: string; ctl: string; pcap?: Map<string, string>; metrics?: { host: string; port: number }; error?: string }

function parseLinks(args: string[]): RunArgs {
  const links = new Map<string, LinkSpec>();
  let file: string | null = null;
  let offload = true;
  let level: string | undefined;
  let ctl = DEFAULT_CTL;
  const pcap = new Map<string, string>();
  let metrics: { host: string; port: number } | undefined;
  let busyPoll = false;
  let warmup = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--link') {
      const v = args[++i] ?? '';
      const m = /^([0-9]+|(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2})=(tap|packet|nic):(\S{1,15})$/.exec(v);
      if (!m) return { file, links, offload, ctl, error: `bad --link '${v}': expected N=tap:NAME, N=packet:IFNAME or N=nic:IFNAME` };
      const key = /^\d+$/.test(m[1]) ? String(Number(m[1])) : m[1].toLowerCase();
      links.set(key, m[2] === 'tap' ? { kind: 'tap', name: m[3] } : { kind: 'packet', ifname: m[3], ownMac: m[2] === 'nic' });
    } else if (a === '--pcap') {
      const v = args[++i] ?? '';
      const m = /^([0-9]+|(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2})=(.+)$/.exec(v);
      if (!m) return { file, links, offload, ctl, error: `bad --pcap '${v}': expected N=FILE` };
      pcap.set(/^\d+$/.test(m[1]) ? String(Number(m[1])) : m[1].toLowerCase(), m[2]);
    } else if (a === '--metrics') {
      const v = args[++i] ?? '';
      const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(v);
      if (!m || Number(m[2]) > 65535) return { file, links, offload, ctl, error: `bad --metrics '${v}': expected HOST:PORT` };
      metrics = { host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
    } else if (a === '--no-offload') offload = false;
    else if (a === '--busy-poll') busyPoll = true;
    else if (a === '--no-warmup') warmup = false;
    else if (a === '--log-level') level = args[++i];
    else if (a === '--ctl') ctl = args[++i] ?? '';
    else if (a.startsWith('-') && a !== '-') return { file, links, offload, ctl, error: `unknown option ${a}` };
    else if (file === null) file = a;
    else return { file, links, offload, ctl, error: `unexpected argument ${a}` };
  }
  if (!ctl) return { file, links, offload, ctl, error: '--ctl needs a path (or none)' };
  return { file, links, offload, busyPoll, warmup, level, ctl, pcap, metrics };
}

async function openLinks(model: RouterConfig, specs: Map<string, LinkSpec>, offload: boolean, pcap: Map<string, string>): Promise<Link[]> {
  const { TapLink } = await import('../../drivers/tap.js');
  const { PacketLink } = await import('../../drivers/packet.js');
  const { PcapLink } = await import('../../drivers/pcap.js');
  const { nativeAddon } = await import('../../drivers/native.js');
  const links: Link[] = [];
  try {
    for (const key of linkKeys(model)) {
      const spec = specs.get(key) ?? { kind: 'tap', name: /^\d+$/.test(key) ? `nacl${key}` : `naclm${links.length}` };
      const mac = /^\d+$/.test(key) ? undefined : key;
      if (spec.kind === 'tap') links.push(new TapLink({ name: spec.name, vnetHdr: offload && spec.vnetHdr !== false, mac }));
      else if (spec.kind === 'packet') links.push(new PacketLink({ name: spec.ifname, vnetHdr: offload, mac: spec.ownMac ? nativeAddon().ifGetMac(spec.ifname) : mac }));
      else links.push(spec.link);
      const capture = pcap.get(key);
      if (capture) links[links.length - 1] = new PcapLink(links[links.length - 1], capture);
    }
    for (const key of pcap.keys()) {
      if (!linkKeys(model).includes(key)) throw new Error(`--pcap ${key}: no Iface uses link ${key}`);
    }
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return links;
}

/** The router on its links. With the warm-up it is built first and runs on in-process links
 *  (its own rules, its own paths) until the real links are open, then takes them and forgets
 *  the warm-up. */
async function buildRouter(build: Build, opts: RunArgs, log: Logger): Promise<Router> {
  const model = build.config;
  let router: Router | null = null;
  if (opts.warmup) {
    const warm = new OfflineLinks(model);
    router = new Router(build, { links: warm.routerSide, logger: log });
    const w = await warmUp(router, warm);
    log.debug({ packets: w.packets, ms: Math.round(w.ms) }, 'warm-up done');
  }
  const links = await openLinks(model, opts.links, opts.offload, opts.pcap ?? new Map());
  try {
    if (router) router.attachLinks(links);
    else router = new Router(build, { links, logger: log });
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return router;
}

export const command: Command = {
  summary: 'run the router on a NaCl file (the default command)',
  help: HELP,
  async run(args) {
    const opts = parseLinks(args);
    if (opts.error || opts.file === null) {
      process.stderr.write(`nacl-router: ${opts.error ?? 'no FILE given'}\n${HELP}\n`);
      return 2;
    }
    const file = opts.file;
    if (file === '-') {
      process.stderr.write('nacl-router: run needs a FILE (it is read again on reload), not stdin\n');
      return 2;
    }
    if (!existsSync(file)) {
      process.stderr.write(`nacl-router: cannot read ${file}: ENOENT\n`);
      return 2;
    }
    const log = createLogger({ level: opts.level });
    const missing = missingNodeFlags();
    if (missing.length > 0) {
      log.warn({ missing }, 'node was started without the V8 flags of bin/nacl-router.js; run that file itself (see docs/operations.md)');
    }
    // Start-up takes the same path as a reload: the build worker reads, checks and compiles.
    const reloads = new ReloadManager(file, log);
    const t0 = performance.now();
    let build: Awaited<ReturnType<ReloadManager['initial']>>;
    try {
      build = await reloads.initial();
    } catch (e) {
      reloads.close();
      const d = (e as { diagnostics?: string }).diagnostics;
      if (d) {
        process.stderr.write(d);
        return 1;
      }
      process.stderr.write(`nacl-router: ${(e as Error).message}\n`);
      return 2;
    }
    if (build.warnings) process.stderr.write(build.warnings);
    const model = build.config;
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      reloads.close();
      process.stderr.write('nacl-router: must run as root (TAP and AF_PACKET links need CAP_NET_ADMIN); try sudo\n');
      return 2;
    }
    let router: Router;
    try {
      router = await buildRouter(build, opts, log);
    } catch (e) {
      reloads.close();
      process.stderr.write(`nacl-router: ${(e as Error).message}\n`);
      return 2;
    }
    reloads.attach(router);
    router.start();
    if (opts.busyPoll) {
      const { nativeAddon } = await import('../../drivers/native.js');
      nativeAddon().busyPoll(true);
    }
    log.info({
      file,
      ifaces: model.ifaces.map((i, ix) => ({ name: i.name, link: router.links[linkKeys(model).indexOf(typeof i.index === 'number' ? String(i.index) : i.index.mac)]?.name, address: i.address === null ? null : formatIpv4(i.address), vlan: i.vlan, ix })),
      rules: model.writtenRules,
      statements: build.statements,
      startMs: Math.round(performance.now() - t0),
      timings: build.timings,
    }, 'running');

    const ctlPath = opts.ctl === 'none' ? null : opts.ctl;
    let ctl: ReturnType<typeof serveCtl> | null = null;
    if (ctlPath) {
      ctl = serveCtl(ctlPath, (cmd, req, progress) => {
        switch (cmd) {
          case 'show': return { stream: showSlices(router.show, router.ruleset.counters) };
          case 'counters': return router.counters();
          case 'conntrack': return router.ct.dump(typeof req.max === 'number' ? req.max : 10000);
          case 'reload': {
            const confirmS = typeof req.confirm === 'number' ? req.confirm : undefined;
            return reloads.reload('ctl', { dryRun: req.dryRun === true, confirmS }, progress).then((r) => {
              if (!r.ok) throw new Error(`${r.error}${r.diagnostics ? `\n${r.diagnostics}` : ''}`);
              return r;
            });
          }
          case 'confirm': {
            const r = reloads.confirm();
            if (!r.ok) throw new Error(r.message);
            return r.message;
          }
          default: throw new Error(`unknown command '${cmd}' (show, counters, conntrack, reload, confirm)`);
        }
      });
      ctl.on('error', (e) => log.warn({ err: e.message, ctl: ctlPath }, 'control socket unavailable'));
    }

    let metricsServer: ReturnType<typeof serveMetrics> | null = null;
    if (opts.metrics) {
      metricsServer = serveMetrics(() => router, opts.metrics.host, opts.metrics.port);
      metricsServer.on('error', (e) => log.warn({ err: e.message }, 'metrics endpoint unavailable'));
    }

    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        if (ctl && ctlPath) closeCtl(ctl, ctlPath);
        metricsServer?.close();
        reloads.close();
        router.stop();
        log.info({ signal: sig, counters: router.counters() }, 'stopped; counters');
        resolve(0);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      // The manager logs every result itself.
      process.on('SIGHUP', () => { void reloads.reload('SIGHUP'); });
    });
  },
};

/** `ctl show` in slices of a few thousand lines, each made between packet batches. */
async function* showSlices(t: ShowTemplate, counters: RuleCounters): AsyncGenerator<string> {
  const n = templateLines(t);
  const SLICE = 500;
  for (let i = 0; i < n; i += SLICE) {
    yield renderTemplate(t, counters, i, Math.min(n, i + SLICE));
    await new Promise((r) => setImmediate(r));
  }
}
