// DHCP client state machine with byte-level server replies: DISCOVER -> OFFER -> REQUEST -> ACK,
// retransmission, NAK restart, renewal at T1, and replies for someone else ignored.
import t from 'tap';
import { DhcpClient, type DhcpLease } from '../../stack/dhcp.js';

const MAC = Uint8Array.from([2, 0, 0, 0, 0, 9]);
const ip = (s: string) => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);

interface Sent { type: number; xid: number; reqIp: number; ciaddr: number; flags: number }

function host() {
  const sent: Sent[] = [];
  return {
    sent,
    sendUdp(daddr: number, sport: number, dport: number, p: Uint8Array, len: number) {
      const dv = new DataView(p.buffer, p.byteOffset, len);
      let type = 0, reqIp = 0;
      for (let i = 240; i < len && p[i] !== 255;) {
        const c = p[i], n = p[i + 1];
        if (c === 53) type = p[i + 2];
        if (c === 50) reqIp = dv.getUint32(i + 2);
        i += 2 + n;
      }
      t.equal(daddr, 0xffffffff); t.equal(sport, 68); t.equal(dport, 67);
      sent.push({ type, xid: dv.getUint32(4), reqIp, ciaddr: dv.getUint32(12), flags: dv.getUint16(10) });
      return 0;
    },
  };
}

function reply(xid: number, type: number, yiaddr: string, mac = MAC, lease = 600): Uint8Array {
  const m = new Uint8Array(300);
  const dv = new DataView(m.buffer);
  m[0] = 2; m[1] = 1; m[2] = 6;
  dv.setUint32(4, xid);
  dv.setUint32(16, ip(yiaddr));
  m.set(mac, 28);
  dv.setUint32(236, 0x63825363);
  let o = 240;
  m[o++] = 53; m[o++] = 1; m[o++] = type;
  m[o++] = 1; m[o++] = 4; dv.setUint32(o, ip('255.255.255.0')); o += 4;
  m[o++] = 3; m[o++] = 4; dv.setUint32(o, ip('10.0.0.1')); o += 4;
  m[o++] = 54; m[o++] = 4; dv.setUint32(o, ip('10.0.0.1')); o += 4;
  m[o++] = 51; m[o++] = 4; dv.setUint32(o, lease); o += 4;
  m[o++] = 255;
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
