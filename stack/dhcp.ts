// DHCP client (RFC 2131) for Ifaces with `config: dhcp` / `dhcp-with-fallback`, speaking through
// the router's own stack: broadcasts from 0.0.0.0 on its Iface (sendUdp with viaIf), replies on
// UDP port 68 (one binding shared by every client, told apart by Iface and xid). The broadcast
// flag is set, so servers answer to 255.255.255.255 and no ARP is needed before the address.
// States: init -> selecting (DISCOVER) -> requesting (REQUEST) -> bound; renewal at T1 re-enters
// requesting; NAK restarts. Driven by tick(now); no timers of its own.

import {
  BOOTREPLY, DHCPACK, DHCPDISCOVER, DHCPNAK, DHCPOFFER, DHCPREQUEST, DhcpView, emitDhcpRequest, OPT_DNS, OPT_END,
  OPT_LEASE_TIME, OPT_MESSAGE_TYPE, OPT_PARAMS, OPT_REQUESTED_IP, OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK,
} from './wire/dhcp.js';
import { IP_BROADCAST } from './wire/ipv4.js';
import { rd32, wr32 } from './wire/view.js';

export const DHCP_CLIENT_PORT = 68;
export const DHCP_SERVER_PORT = 67;
const RETRY_MS = 2000;
const MSG_LEN = 300;

export interface DhcpLease {
  address: number;
  netmask: number;
  router: number;
  dns: number;
  server: number;
  leaseS: number;
}

/** What the client needs from the stack. */
export interface DhcpHost {
  sendUdp(daddr: number, sport: number, dport: number, payload: Uint8Array, len: number, payloadOff: number, viaIf: number): number;
}

type State = 'init' | 'selecting' | 'requesting' | 'bound' | 'stopped';

export class DhcpClient {
  state: State = 'init';
  lease: DhcpLease | null = null;
  private xid: number;
  private offered: DhcpLease | null = null;
  private nextSend = 0;
  private renewAt = 0;
  private readonly msg = new Uint8Array(MSG_LEN);
  private readonly view = new DhcpView();

  constructor(
    private readonly host: DhcpHost,
    readonly iface: number,
    private readonly mac: Uint8Array,
    private readonly onBound: (l: DhcpLease) => void,
  ) {
    this.xid = (Math.random() * 0x100000000) >>> 0;
  }

  stop(): void { this.state = 'stopped'; }

  tick(now: number): void {
    if (this.state === 'stopped') return;
    if (this.state === 'bound') {
      if (now < this.renewAt) return;
      this.state = 'requesting';
      this.nextSend = 0;
    }
    if (this.state === 'init') { this.state = 'selecting'; this.nextSend = 0; }
    if (now < this.nextSend) return;
    this.nextSend = now + RETRY_MS;
    if (this.state === 'selecting') this.send(DHCPDISCOVER, null);
    else if (this.state === 'requesting') this.send(DHCPREQUEST, this.offered ?? this.lease);
  }

  /** A datagram that arrived on UDP port 68 of Iface `iface`. */
  receive(buf: Uint8Array, off: number, len: number, iface: number, now: number): void {
    if (iface !== this.iface || this.state === 'stopped') return;
    const m = this.view.reset(buf, off, len);
    if (!m.valid() || m.op !== BOOTREPLY || m.xid !== this.xid || !m.chaddrEquals(this.mac)) return;
    const l: DhcpLease = { address: m.yiaddr, netmask: 0, router: 0, dns: 0, server: 0, leaseS: 3600 };
    let type = 0;
    m.options((code, at, n) => {
      if (code === OPT_MESSAGE_TYPE && n >= 1) type = buf[at];
      else if (n < 4) return;
      else if (code === OPT_SUBNET_MASK) l.netmask = rd32(buf, at);
      else if (code === OPT_ROUTER) l.router = rd32(buf, at);
      else if (code === OPT_DNS) l.dns = rd32(buf, at);
      else if (code === OPT_SERVER_ID) l.server = rd32(buf, at);
      else if (code === OPT_LEASE_TIME) l.leaseS = rd32(buf, at);
    });
    if (l.netmask === 0) l.netmask = 0xffffff00;
    if (type === DHCPOFFER && this.state === 'selecting' && l.address !== 0) {
      this.offered = l;
      this.state = 'requesting';
      this.nextSend = 0;
      this.tick(now);
    } else if (type === DHCPACK && this.state === 'requesting' && l.address !== 0) {
      this.lease = l;
      this.offered = null;
      this.state = 'bound';
      this.renewAt = now + Math.max(10, l.leaseS / 2) * 1000;
      this.onBound(l);
    } else if (type === DHCPNAK && this.state === 'requesting') {
      this.offered = null;
      this.state = 'selecting';
      this.xid = (this.xid + 1) >>> 0;
      this.nextSend = 0;
    }
  }

  private send(type: number, want: DhcpLease | null): void {
    const m = this.msg;
    m.fill(0);
    const renewing = this.state === 'requesting' && this.lease !== null && !this.offered;
    let o = emitDhcpRequest(m, 0, this.xid, renewing ? this.lease!.address : 0, this.mac);
    m[o++] = OPT_MESSAGE_TYPE; m[o++] = 1; m[o++] = type;
    if (type === DHCPREQUEST && want) {
      m[o++] = OPT_REQUESTED_IP; m[o++] = 4; wr32(m, o, want.address); o += 4;
      if (want.server) { m[o++] = OPT_SERVER_ID; m[o++] = 4; wr32(m, o, want.server); o += 4; }
    }
    m[o++] = OPT_PARAMS; m[o++] = 4; m[o++] = OPT_SUBNET_MASK; m[o++] = OPT_ROUTER; m[o++] = OPT_DNS; m[o++] = OPT_LEASE_TIME;
    m[o++] = OPT_END;
    this.host.sendUdp(IP_BROADCAST, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, m, MSG_LEN, 0, this.iface);
  }
}
