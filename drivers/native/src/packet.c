/* AF_PACKET links: a SOCK_RAW packet socket bound to one existing interface for ETH_P_ALL,
 * promiscuous, non-blocking, ignoring our own outgoing frames (PACKET_IGNORE_OUTGOING, and
 * a pkttype check for kernels without it). rx is one recvmmsg per wakeup into the slab
 * slots; tx is sendmmsg straight from the caller's buffer. With PACKET_VNET_HDR the kernel
 * uses the 10-byte virtio_net_hdr; the JS side always sees the 12-byte v1 layout at off-12,
 * so the header is scattered/gathered with a second iovec and num_buffers is zeroed. */
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int nl_packet_open(napi_env env, nl_link *l, const char *ifname, int flags) {
  unsigned idx = if_nametoindex(ifname);
  if (idx == 0) {
    char what[64];
    snprintf(what, sizeof what, "if_nametoindex(%s)", ifname);
    nl_throw_errno(env, what, errno);
    return -1;
  }
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    nl_throw_errno(env, "socket(AF_PACKET)", errno);
    return -1;
  }
  int one = 1;
  if ((flags & NL_F_VNET) && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    nl_throw_errno(env, "PACKET_VNET_HDR", e);
    return -1;
  }
  (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  int bufsz = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof bufsz) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof bufsz) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)idx;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int e = errno;
    close(fd);
    nl_throw_errno(env, "bind(AF_PACKET)", e);
    return -1;
  }
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = (int)idx;
  mr.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
    int e = errno;
    close(fd);
    nl_throw_errno(env, "PACKET_ADD_MEMBERSHIP", e);
    return -1;
  }
  l->msgs = calloc(NL_MAX_BATCH, sizeof *l->msgs);
  l->iov = calloc(NL_MAX_BATCH * 2, sizeof *l->iov);
  l->addrs = calloc(NL_MAX_BATCH, sizeof *l->addrs);
  if (!l->msgs || !l->iov || !l->addrs) {
    close(fd);
    nl_throw_errno(env, "calloc", ENOMEM);
    return -1;
  }
  snprintf(l->name, IFNAMSIZ, "%s", ifname);
  l->ifindex = (int)idx;
  l->fd = fd;
  l->kind = NL_KIND_PACKET;
  l->vnet = (flags & NL_F_VNET) != 0;
  return 0;
}

/* Points the receive iovecs at the slab slots; called once the slab is known. */
int nl_packet_prepare(nl_link *l) {
  for (int j = 0; j < l->batch; j++) {
    uint8_t *frame = l->slab + (size_t)j * (size_t)l->slot + l->headroom;
    size_t cap = (size_t)l->slot - (size_t)l->headroom;
    struct msghdr *h = &l->msgs[j].msg_hdr;
    struct iovec *v = &l->iov[2 * j];
    if (l->vnet) {
      v[0].iov_base = frame - NL_VNET_HDR_LEN;
      v[0].iov_len = NL_PKT_VNET_LEN;
      v[1].iov_base = frame;
      v[1].iov_len = cap;
      h->msg_iovlen = 2;
    } else {
      v[0].iov_base = frame;
      v[0].iov_len = cap;
      h->msg_iovlen = 1;
    }
    h->msg_iov = v;
    h->msg_name = &l->addrs[j];
  }
  return 0;
}

int nl_packet_rx(nl_link *l, int max) {
  for (int j = 0; j < max; j++) {
    l->msgs[j].msg_hdr.msg_namelen = sizeof(struct sockaddr_ll);
    l->msgs[j].msg_hdr.msg_flags = 0;
  }
  int r;
  do {
    r = recvmmsg(l->fd, l->msgs, (unsigned)max, MSG_DONTWAIT, NULL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      l->stats[ST_RX_ERRORS]++;
      if ((errno == EBADF || errno == ENOTSOCK) && l->polling) {
        uv_poll_stop(&l->poll);
        l->polling = 0;
      }
    }
    return 0;
  }
  int hdr = l->vnet ? NL_PKT_VNET_LEN : 0;
  int n = 0;
  for (int j = 0; j < r; j++) {
    if (l->addrs[j].sll_pkttype == PACKET_OUTGOING) continue;
    long flen = (long)l->msgs[j].msg_len - hdr;
    if ((l->msgs[j].msg_hdr.msg_flags & MSG_TRUNC) || flen < 14) {
      l->stats[ST_RX_ERRORS]++;
      continue;
    }
    int32_t o = (int32_t)((size_t)j * (size_t)l->slot + (size_t)l->headroom);
    if (l->vnet) {
      l->slab[o - 2] = 0;
      l->slab[o - 1] = 0;
    }
    l->off[n] = o;
    l->len[n] = (int32_t)flen;
    l->stats[ST_RX_PACKETS]++;
    l->stats[ST_RX_BYTES] += (double)flen;
    n++;
  }
  return n;
}

int nl_packet_tx(nl_link *l, const uint8_t *buf, size_t buflen, const int32_t *off, const int32_t *len, int count) {
  int hdr = l->vnet ? NL_VNET_HDR_LEN : 0;
  int written = 0;
  int i = 0;
  while (i < count) {
    int m = 0;
    double bytes[64];
    struct mmsghdr msgs[64];
    struct iovec iov[128];
    for (; i < count && m < 64; i++) {
      long o = off[i], n = len[i];
      if (o - hdr < 0 || n < 14 || (size_t)(o + n) > buflen) {
        l->stats[ST_TX_DROPPED]++;
        continue;
      }
      memset(&msgs[m], 0, sizeof msgs[m]);
      struct iovec *v = &iov[2 * m];
      if (l->vnet) {
        v[0].iov_base = (void *)(buf + o - hdr);
        v[0].iov_len = NL_PKT_VNET_LEN;
        v[1].iov_base = (void *)(buf + o);
        v[1].iov_len = (size_t)n;
        msgs[m].msg_hdr.msg_iovlen = 2;
      } else {
        v[0].iov_base = (void *)(buf + o);
        v[0].iov_len = (size_t)n;
        msgs[m].msg_hdr.msg_iovlen = 1;
      }
      msgs[m].msg_hdr.msg_iov = v;
      bytes[m] = (double)n;
      m++;
    }
    int k = 0;
    while (k < m) {
      int r = sendmmsg(l->fd, &msgs[k], (unsigned)(m - k), MSG_DONTWAIT);
      if (r > 0) {
        for (int q = k; q < k + r; q++) l->stats[ST_TX_BYTES] += bytes[q];
        written += r;
        l->stats[ST_TX_PACKETS] += r;
        k += r;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        l->stats[ST_TX_DROPPED] += (m - k);
        k = m;
        break;
      }
      /* this frame was refused (e.g. EMSGSIZE, ENETDOWN): drop it and go on */
      l->stats[ST_TX_DROPPED]++;
      k++;
    }
  }
  return written;
}
