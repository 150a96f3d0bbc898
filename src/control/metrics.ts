// Prometheus text exposition of the router's counters (`nacl-router run --metrics HOST:PORT`,
// served at /metrics). Everything comes from Router.counters() and the per-rule counters, the
// same numbers `ctl counters` and `ctl show` print.
import { createServer, type Server } from 'node:http';
import type { Router } from '../router.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderMetrics(router: Router): string {
  const c = router.counters();
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const line = (name: string, labels: Record<string, string>, v: number) => {
    const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
    out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(v) ? v : 0}`);
  };
  const ifs = c.stack.ifaces;
  const per = (name: string, help: string, pick: (i: (typeof ifs)[number]) => number) => {
    family(name, 'counter', help);
    for (const i of ifs) line(name, { iface: i.name }, pick(i));
  };
  per('nacl_iface_rx_packets_total', 'Frames received by the Iface.', (i) => i.rxPackets);
  per('nacl_iface_rx_bytes_total', 'Bytes received by the Iface.', (i) => i.rxBytes);
  per('nacl_iface_tx_packets_total', 'Frames sent by the Iface.', (i) => i.txPackets);
  per('nacl_iface_tx_bytes_total', 'Bytes sent by the Iface.', (i) => i.txBytes);
  per('nacl_iface_forwarded_total', 'Packets forwarded from the Iface.', (i) => i.forwarded);
  per('nacl_iface_delivered_total', 'Packets delivered to the router itself.', (i) => i.delivered);
  family('nacl_iface_drops_total', 'counter', 'Packets dropped, by Iface and reason.');
  for (const i of ifs) for (const [reason, n] of Object.entries(i.drops)) line('nacl_iface_drops_total', { iface: i.name, reason }, n);
  family('nacl_link_tx_dropped_total', 'counter', 'Frames the link driver could not send.');
  for (const l of c.links) line('nacl_link_tx_dropped_total', { link: l.name }, l.txDropped);
  family('nacl_conntrack_entries', 'gauge', 'Connections tracked now.');
  line('nacl_conntrack_entries', {}, c.conntrack.entries);
  family('nacl_conntrack_limit', 'gauge', 'Connection limit.');
  line('nacl_conntrack_limit', {}, c.conntrack.limit);
  for (const [k, help] of [['inserts', 'Connections created.'], ['dropsFull', 'Packets dropped because the table was full.'], ['expiries', 'Connections expired.'], ['invalid', 'Packets conntrack found invalid.'], ['related', 'ICMP errors matched to a connection.']] as const) {
    const name = `nacl_conntrack_${k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)}_total`;
    family(name, 'counter', help);
    line(name, {}, c.conntrack[k]);
  }
  family('nacl_nat_total', 'counter', 'NAT events by kind.');
  for (const [k, v] of Object.entries(c.nat)) if (typeof v === 'number') line('nacl_nat_total', { kind: k }, v);
  family('nacl_rule_packets_total', 'counter', 'Packets that matched a rule (an if whose condition held, an action outside any if that ran).');
  family('nacl_rule_bytes_total', 'counter', 'Bytes (IPv4 total length) of those packets.');
  const rc = router.ruleset.counters;
  const rules = router.rules;
  for (let id = 0; id < rules.count; id++) {
    const p = rc.packets[id];
    if (!p || !rules.isRule(id)) continue;
    const labels = { rule: String(id), at: rules.where(id), function: rules.fn(id) };
    line('nacl_rule_packets_total', labels, p);
    line('nacl_rule_bytes_total', labels, rc.bytes[id]);
  }
  return out.join('\n') + '\n';
}

/** Serve /metrics on host:port (e.g. 127.0.0.1:9100). */
export function serveMetrics(router: () => Router, host: string, port: number): Server {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics' && req.url !== '/') {
      res.writeHead(404).end('not found\n');
      return;
    }
    try {
      const body = renderMetrics(router());
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
    } catch (e) {
      res.writeHead(500).end(`${(e as Error).message}\n`);
    }
  });
  server.listen(port, host);
  return server;
}
