import t from 'tap';
import {
  clearVnetHdr, emitVnetHdr, Offload, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VirtioNetHdrView, VNET_HDR_LEN,
} from '../../../stack/wire/virtio.js';
import { VNET_TSO } from './fixtures.js';

t.test('reads every field (little endian)', async (t) => {
  const h = new VirtioNetHdrView().reset(VNET_TSO, 0, VNET_HDR_LEN);
  t.equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM); t.ok(h.needsCsum);
  t.equal(h.gsoType, VIRTIO_NET_HDR_GSO_TCPV4); t.equal(h.hdrLen, 54); t.equal(h.gsoSize, 1448);
  t.equal(h.csumStart, 34); t.equal(h.csumOffset, 16);
});

t.test('emit matches the fixture; no partial fields without NEEDS_CSUM; clear', async (t) => {
  const b = new Uint8Array(VNET_HDR_LEN).fill(0xee);
  t.equal(emitVnetHdr(b, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16), VNET_HDR_LEN);
  t.same(Array.from(b), Array.from(VNET_TSO));
  emitVnetHdr(b, 0, 0, 0, 0, 0, 34, 16);
  t.same(Array.from(b), new Array(VNET_HDR_LEN).fill(0));
  b.fill(7);
  clearVnetHdr(b, 0);
  t.same(Array.from(b), new Array(VNET_HDR_LEN).fill(0));
});

t.test('Offload writes the header for a link header of any length', async (t) => {
  // The fixture's frame: 14-byte Ethernet, 20-byte IPv4, 20-byte TCP; csum_start 20 from L3.
  const o = new Offload().set(VIRTIO_NET_HDR_GSO_TCPV4, 1448, 20, 16);
  const b = new Uint8Array(VNET_HDR_LEN);
  o.writeHdr(b, 0, 14, 20, 20);
  t.same(Array.from(b), Array.from(VNET_TSO));
  o.writeHdr(b, 0, 18, 20, 20);
  const h = new VirtioNetHdrView().reset(b, 0, VNET_HDR_LEN);
  t.equal(h.csumStart, 38, 'shifted by a VLAN tag'); t.equal(h.hdrLen, 58);
  o.clear().writeHdr(b, 0, 14, 20, 20);
  t.same(Array.from(b), new Array(VNET_HDR_LEN).fill(0), 'no offload: zeroed');
});
