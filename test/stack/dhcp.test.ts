// DHCP client state machine with byte-level server replies: DISCOVER -> OFFER -> REQUEST -> ACK,
// retransmission, NAK restart, renewal at T1, and replies for someone else ignored.
import t from 'tap';
import { DhcpClient, type DhcpLease } from '../../stack/dhcp.js';
import {
  BOOTREPLY, DHCP_CHADDR, DHCP_CIADDR, DHCP_FLAGS, DHCP_HLEN, DHCP_HTYPE, DHCP_MAGIC, DHCP_MAGIC_COOKIE, DHCP_OP, DHCP_OPTIONS,
  DHCP_XID, DHCP_YIADDR, DhcpView, OPT_END, OPT_LEASE_TIME, OPT_MESSAGE_TYPE, OPT_REQUESTED_IP, OPT_ROUTER, OPT_SERVER_ID,
  OPT_SUBNET_MASK,
} from '../../stack/wire/dhcp.js';
import { parseIpv4 } from '../../stack/wire/ipv4.js';
import { rd16, rd32, wr32 } from '../../stack/wire/view.js';

const MAC = Uint8Array.from([2, 0, 0, 0, 0, 9]);
const ip = (s: string): number => parseIpv4(s)!;

interface Sent { type: number; xid: number; reqIp: number; ciaddr: number; flags: number }

function host() {
  const sent: Sent[] = [];
  return {
    sent,
    sendUdp(daddr: number, sport: number, dport: number, p: Uint8Array, len: number) {
      const m = new DhcpView().reset(p, 0, len);
      let type = 0, reqIp = 0;
      m.options((code, at) => {
        if (code === OPT_MESSAGE_TYPE) type = p[at]!;
        if (code === OPT_REQUESTED_IP) reqIp = rd32(p, at);
      });
      t.equal(daddr, 0xffffffff); t.equal(sport, 68); t.equal(dport, 67);
      sent.push({ type, xid: m.xid, reqIp, ciaddr: rd32(p, DHCP_CIADDR), flags: rd16(p, DHCP_FLAGS) });
      return 0;
    },
  };
}

function reply(xid: number, type: number, yiaddr: string, mac = MAC, lease = 600): Uint8Array {
  const m = new Uint8Array(300);
  m[DHCP_OP] = BOOTREPLY; m[DHCP_HTYPE] = 1; m[DHCP_HLEN] = 6;
  wr32(m, DHCP_XID, xid);
  wr32(m, DHCP_YIADDR, ip(yiaddr));
  m.set(mac, DHCP_CHADDR);
  wr32(m, DHCP_MAGIC, DHCP_MAGIC_COOKIE);
  let o = DHCP_OPTIONS;
  m[o++] = OPT_MESSAGE_TYPE; m[o++] = 1; m[o++] = type;
  m[o++] = OPT_SUBNET_MASK; m[o++] = 4; wr32(m, o, ip('255.255.255.0')); o += 4;
  m[o++] = OPT_ROUTER; m[o++] = 4; wr32(m, o, ip('10.0.0.1')); o += 4;
  m[o++] = OPT_SERVER_ID; m[o++] = 4; wr32(m, o, ip('10.0.0.1')); o += 4;
  m[o++] = OPT_LEASE_TIME; m[o++] = 4; wr32(m, o, lease); o += 4;
  m[o++] = OPT_END;
  return m;
}

t.test('discover, offer, request, ack, renew; nak restarts', async (t) => {
  const h = host();
  const leases: DhcpLease[] = [];
  const c = new DhcpClient(h, 0, MAC, (l) => leases.push(l));
  c.tick(0);
  t.equal(h.sent.length, 1); t.equal(h.sent[0].type, 1, 'DISCOVER'); t.equal(h.sent[0].flags, 0x8000, 'broadcast flag');
  c.tick(1000);
  t.equal(h.sent.length, 1, 'no resend before the retry interval');
  c.tick(2000);
  t.equal(h.sent.length, 2, 'DISCOVER resent');
  const xid = h.sent[0].xid;
  c.receive(reply(xid, 2, '10.0.0.50', Uint8Array.from([2, 0, 0, 0, 0, 8])), 0, 300, 0, 2100);
  t.equal(c.state, 'selecting', 'an offer for another MAC is ignored');
  c.receive(reply(xid + 1, 2, '10.0.0.50'), 0, 300, 0, 2100);
  t.equal(c.state, 'selecting', 'an offer with another xid is ignored');
  c.receive(reply(xid, 2, '10.0.0.50'), 0, 300, 1, 2100);
  t.equal(c.state, 'selecting', 'an offer on another Iface is ignored');
  c.receive(reply(xid, 2, '10.0.0.50'), 0, 300, 0, 2100);
  t.equal(c.state, 'requesting');
  t.equal(h.sent.at(-1)!.type, 3, 'REQUEST'); t.equal(h.sent.at(-1)!.reqIp, ip('10.0.0.50'));
  c.receive(reply(xid, 5, '10.0.0.50'), 0, 300, 0, 2200);
  t.equal(c.state, 'bound');
  t.same(leases.map((l) => [l.address, l.netmask, l.router, l.leaseS]), [[ip('10.0.0.50'), ip('255.255.255.0'), ip('10.0.0.1'), 600]]);
  const n = h.sent.length;
  c.tick(2200 + 299_000);
  t.equal(h.sent.length, n, 'quiet until T1');
  c.tick(2200 + 300_000);
  t.equal(h.sent.at(-1)!.type, 3, 'renewal REQUEST at T1');
  t.equal(h.sent.at(-1)!.ciaddr, ip('10.0.0.50'), 'renewal carries ciaddr');
  c.receive(reply(xid, 6, '0.0.0.0'), 0, 300, 0, 302_300);
  t.equal(c.state, 'selecting', 'NAK restarts');
  c.tick(302_300);
  t.equal(h.sent.at(-1)!.type, 1, 'DISCOVER again');
  t.not(h.sent.at(-1)!.xid, xid, 'with a new xid');
  c.receive(new Uint8Array(100), 0, 100, 0, 302_400);
  c.receive(reply(h.sent.at(-1)!.xid, 2, '10.0.0.60').subarray(0, 250), 0, 250, 0, 302_400);
  t.pass('short and truncated datagrams do not throw');
});
