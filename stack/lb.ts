// Layer-4 TCP load balancer (NaCl `Load_balancer`, layer tcp, round_robin), full NAT.
// A new TCP connection (a SYN) to clients-Iface address : clients.port arriving on the clients
// Iface is assigned round-robin to a pool node; stack/nat.ts then translates its destination
// to the node and its source to the servers-Iface address with a pool port, and undoes both on
// replies. This module only holds the balancing decision and its counters.
//
// Invariants: `active` = sessions whose conntrack entry is alive; a session ends when its
// entry is removed (expiry or close). New connections beyond session_limit are refused
// (dropped and counted in `refused`).
// wait_queue_limit: a packet balancer holds no accept queue (it never terminates TCP), so a
// refused SYN is dropped; the client's own SYN retransmissions are the waiting line and get in
// once a session ends. The limit is kept for reporting only (`stats().waitQueueLimit`).

import { formatIpv4 } from './wire/ipv4.js';


export interface LbNode { address: number; port: number }

export interface LbConfig {
  name: string;
  /** Iface id clients arrive on (-1 = any) and the address:port they connect to. */
  clientsIf: number;
  vip: number;
  port: number;
  /** Iface id towards the servers (its address becomes the source). */
  serversIf: number;
  nodes: LbNode[];
  sessionLimit: number;
  waitQueueLimit: number;
}

export interface LbStats {
  name: string;
  active: number;
  sessionLimit: number;
  waitQueueLimit: number;
  refused: number;
  noAddress: number;
  nodes: Array<{ address: string; port: number; active: number; total: number; packets: number }>;
}


export class LoadBalancer {
  readonly name: string;
  clientsIf: number;
  vip: number;
  port: number;
  serversIf: number;
  readonly nodeAddr: Uint32Array;
  readonly nodePort: Uint16Array;
  /** Per node: live sessions, sessions ever, packets forwarded (both directions). */
  readonly nodeActive: Float64Array;
  readonly nodeTotal: Float64Array;
  readonly nodePackets: Float64Array;
  sessionLimit: number;
  waitQueueLimit: number;
  active = 0;
  refused = 0;
  /** Refused because the servers Iface has no address or its port pool is exhausted. */
  noAddress = 0;
  private next = 0;

  constructor(cfg: LbConfig) {
    this.name = cfg.name;
    this.clientsIf = cfg.clientsIf;
    this.vip = cfg.vip >>> 0;
    this.port = cfg.port;
    this.serversIf = cfg.serversIf;
    const n = cfg.nodes.length;
    this.nodeAddr = new Uint32Array(n);
    this.nodePort = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      this.nodeAddr[i] = cfg.nodes[i].address;
      this.nodePort[i] = cfg.nodes[i].port;
    }
    this.nodeActive = new Float64Array(n);
    this.nodeTotal = new Float64Array(n);
    this.nodePackets = new Float64Array(n);
    this.sessionLimit = cfg.sessionLimit;
    this.waitQueueLimit = cfg.waitQueueLimit;
  }

  /** Same name, Ifaces, address, port and pool (limits may differ). */
  sameShape(o: LoadBalancer): boolean {
    if (o.name !== this.name || o.clientsIf !== this.clientsIf || o.vip !== this.vip || o.port !== this.port ||
        o.serversIf !== this.serversIf || o.nodeAddr.length !== this.nodeAddr.length) return false;
    for (let i = 0; i < this.nodeAddr.length; i++) {
      if (o.nodeAddr[i] !== this.nodeAddr[i] || o.nodePort[i] !== this.nodePort[i]) return false;
    }
    return true;
  }

  /** Does a new connection to (daddr, dport) arriving on inIf belong to this balancer? */
  matches(inIf: number, daddr: number, dport: number): boolean {
    return daddr === this.vip && dport === this.port && (this.clientsIf < 0 || inIf === this.clientsIf);
  }

  /** Pick the node for a new session (round robin); -1 = refused (session limit or no nodes). */
  pick(): number {
    const n = this.nodeAddr.length;
    if (n === 0 || (this.sessionLimit > 0 && this.active >= this.sessionLimit)) {
      this.refused++;
      return -1;
    }
    const node = this.next;
    this.next = node + 1 === n ? 0 : node + 1;
    return node;
  }

  begin(node: number): void {
    this.active++;
    this.nodeActive[node]++;
    this.nodeTotal[node]++;
  }

  end(node: number): void {
    this.active--;
    this.nodeActive[node]--;
  }

  /** Counters back to zero and round robin to the first node (sessions are counted down by
   *  end() as their connections go). */
  resetCounters(): void {
    this.nodeTotal.fill(0);
    this.nodePackets.fill(0);
    this.refused = 0;
    this.noAddress = 0;
    this.next = 0;
  }

  stats(): LbStats {
    const nodes = [];
    for (let i = 0; i < this.nodeAddr.length; i++) {
      nodes.push({ address: formatIpv4(this.nodeAddr[i]), port: this.nodePort[i], active: this.nodeActive[i], total: this.nodeTotal[i], packets: this.nodePackets[i] });
    }
    return { name: this.name, active: this.active, sessionLimit: this.sessionLimit, waitQueueLimit: this.waitQueueLimit, refused: this.refused, noAddress: this.noAddress, nodes };
  }
}
