/* TAP links: open /dev/net/tun as IFF_TAP|IFF_NO_PI (optionally IFF_VNET_HDR with checksum and
 * TSO offloads, optionally IFF_MULTI_QUEUE), non-blocking. A device created here is not
 * persistent, so it disappears when the fd closes. rx reads one frame per read() into the
 * slab slots; tx writes one frame per write() straight from the caller's buffer, with the
 * 12-byte virtio_net_hdr_v1 in front when vnet is on. Neither ever blocks. */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

int nl_tap_open(napi_env env, nl_link *l, const char *name, int flags) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    nl_throw_errno(env, "open /dev/net/tun", errno);
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (flags & NL_F_VNET) ifr.ifr_flags |= IFF_VNET_HDR;
  if (flags & NL_F_MULTI_QUEUE) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    nl_throw_errno(env, "TUNSETIFF", e);
    return -1;
  }
  if (flags & NL_F_VNET) {
    int sz = NL_VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      int e = errno;
      close(fd);
      nl_throw_errno(env, "TUNSETVNETHDRSZ", e);
      return -1;
    }
    unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    if (ioctl(fd, TUNSETOFFLOAD, off) < 0) {
      int e = errno;
      close(fd);
      nl_throw_errno(env, "TUNSETOFFLOAD", e);
      return -1;
    }
  }
  memcpy(l->name, ifr.ifr_name, IFNAMSIZ);
  l->name[IFNAMSIZ - 1] = 0;
  l->ifindex = (int)if_nametoindex(l->name);
  l->fd = fd;
  l->kind = NL_KIND_TAP;
  l->vnet = (flags & NL_F_VNET) != 0;
  return 0;
}

static int fatal_rx_errno(int e) {
  return e == EBADF || e == EBADFD || e == ENXIO || e == ENODEV;
}

int nl_tap_rx(nl_link *l, int max) {
  int n = 0;
  int hdr = l->vnet ? NL_VNET_HDR_LEN : 0;
  while (n < max) {
    uint8_t *slot = l->slab + (size_t)n * (size_t)l->slot;
    uint8_t *dst = slot + l->headroom - hdr;
    size_t cap = (size_t)l->slot - (size_t)(l->headroom - hdr);
    ssize_t r = read(l->fd, dst, cap);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      l->stats[ST_RX_ERRORS]++;
      if (fatal_rx_errno(errno) && l->polling) {
        uv_poll_stop(&l->poll);
        l->polling = 0;
      }
      break;
    }
    long flen = (long)r - hdr;
    if (flen < 14) {
      l->stats[ST_RX_ERRORS]++;
      continue;
    }
    l->off[n] = (int32_t)((slot - l->slab) + l->headroom);
    l->len[n] = (int32_t)flen;
    l->stats[ST_RX_PACKETS]++;
    l->stats[ST_RX_BYTES] += (double)flen;
    n++;
  }
  return n;
}

int nl_tap_tx(nl_link *l, const uint8_t *buf, size_t buflen, const int32_t *off, const int32_t *len, int count) {
  int hdr = l->vnet ? NL_VNET_HDR_LEN : 0;
  int written = 0;
  for (int i = 0; i < count; i++) {
    long o = off[i], n = len[i];
    if (o - hdr < 0 || n < 14 || (size_t)(o + n) > buflen) {
      l->stats[ST_TX_DROPPED]++;
      continue;
    }
    ssize_t w;
    do {
      w = write(l->fd, buf + o - hdr, (size_t)(n + hdr));
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
      l->stats[ST_TX_DROPPED]++;
      continue;
    }
    written++;
    l->stats[ST_TX_PACKETS]++;
    l->stats[ST_TX_BYTES] += (double)n;
  }
  return written;
}
