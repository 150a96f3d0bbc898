// DHCP client (RFC 2131) for Ifaces with `config: dhcp` / `dhcp-with-fallback`, speaking through
// the router's own stack: broadcasts from 0.0.0.0 on its Iface (sendUdp with viaIf), replies on
// UDP port 68 (one binding shared by every client, told apart by Iface and xid). The broadcast
// flag is set, so servers answer to 255.255.255.255 and no ARP is needed before the address.
// States: init -> selecting (DISCOVER) -> requesting (REQUEST) -> bound; renewal at T1 re-enters
// requesting; NAK restarts. Driven by tick(now); no timers of its own.

export const DHCP_CLIENT_PORT = 68;
export const DHCP_SERVER_PORT = 67;
const MAGIC = 0x63825363;
const DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5, NAK = 6;
const OPT_MASK = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_REQ_IP = 50, OPT_LEASE = 51, OPT_TYPE = 53, OPT_SERVER = 54, OPT_PARAMS = 55, OPT_END = 255;
const RETRY_MS = 2000;

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
  private readonly msg = new Uint8Array(300);

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
    if (this.state === 'selecting') this.send(DISCOVER, null);
    else if (this.state === 'requesting') this.send(REQUEST, this.offered ?? this.lease);
  }

  /** A datagram that arrived on UDP port 68 of Iface `iface`. */
  receive(buf: Uint8Array, off: number, len: number, iface: number, now: number): void {
    if (iface !== this.iface || this.state === 'stopped' || len < 240) return;
    const dv = new DataView(buf.buffer, buf.byteOffset + off, len);
    if (dv.getUint8(0) !== 2 || dv.getUint32(4) !== this.xid || dv.getUint32(236) !== MAGIC) return;
    for (let i = 0; i < 6; i++) if (buf[off + 28 + i] !== this.mac[i]) return;
    const l: DhcpLease = { address: dv.getUint32(16), netmask: 0, router: 0, dns: 0, server: 0, leaseS: 3600 };
    let type = 0;
    for (let i = 240; i < len;) {
      const code = buf[off + i];
      if (code === OPT_END) break;
      if (code === 0) { i++; continue; }
      if (i + 1 >= len) break;
      const n = buf[off + i + 1];
      const v = i + 2;
      if (v + n > len) break;
      if (code === OPT_TYPE && n >= 1) type = buf[off + v];
      else if (code === OPT_MASK && n >= 4) l.netmask = dv.getUint32(v);
      else if (code === OPT_ROUTER && n >= 4) l.router = dv.getUint32(v);
      else if (code === OPT_DNS && n >= 4) l.dns = dv.getUint32(v);
      else if (code === OPT_SERVER && n >= 4) l.server = dv.getUint32(v);
      else if (code === OPT_LEASE && n >= 4) l.leaseS = dv.getUint32(v);
      i = v + n;
    }
    if (l.netmask === 0) l.netmask = 0xffffff00;
    if (type === OFFER && this.state === 'selecting' && l.address !== 0) {
      this.offered = l;
      this.state = 'requesting';
      this.nextSend = 0;
      this.tick(now);
    } else if (type === ACK && this.state === 'requesting' && l.address !== 0) {
      this.lease = l;
      this.offered = null;
      this.state = 'bound';
      this.renewAt = now + Math.max(10, l.leaseS / 2) * 1000;
      this.onBound(l);
    } else if (type === NAK && this.state === 'requesting') {
      this.offered = null;
      this.state = 'selecting';
      this.xid = (this.xid + 1) >>> 0;
      this.nextSend = 0;
    }
  }

  private send(type: number, want: DhcpLease | null): void {
    const m = this.msg;
    m.fill(0);
    const dv = new DataView(m.buffer);
    m[0] = 1; m[1] = 1; m[2] = 6;
    dv.setUint32(4, this.xid);
    dv.setUint16(10, 0x8000); // broadcast replies
    if (this.state === 'requesting' && this.lease && !this.offered) dv.setUint32(12, this.lease.address); // renewing: ciaddr
    m.set(this.mac.subarray(0, 6), 28);
    dv.setUint32(236, MAGIC);
    let o = 240;
    m[o++] = OPT_TYPE; m[o++] = 1; m[o++] = type;
    if (type === REQUEST && want) {
      m[o++] = OPT_REQ_IP; m[o++] = 4; dv.setUint32(o, want.address); o += 4;
      if (want.server) { m[o++] = OPT_SERVER; m[o++] = 4; dv.setUint32(o, want.server); o += 4; }
    }
    m[o++] = OPT_PARAMS; m[o++] = 4; m[o++] = OPT_MASK; m[o++] = OPT_ROUTER; m[o++] = OPT_DNS; m[o++] = OPT_LEASE;
    m[o++] = OPT_END;
    this.host.sendUdp(0xffffffff, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, m, 300, 0, this.iface);
  }
}
