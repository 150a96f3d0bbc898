/* Shared state of one native link (a TAP fd or an AF_PACKET socket) and the helpers the
 * TAP, AF_PACKET and N-API glue files share. A link lives in a malloc'd nl_link that is
 * freed only when both the JS wrapper has been finalized and the uv_poll handle (if any)
 * has finished closing. All calls happen on the Node main thread. */
#ifndef NACL_LINK_H
#define NACL_LINK_H

#include <node_api.h>
#include <uv.h>
#include <net/if.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/if_packet.h>

#define NL_VNET_HDR_LEN 12     /* virtio_net_hdr_v1, the layout the JS side sees */
#define NL_PKT_VNET_LEN 10     /* AF_PACKET's PACKET_VNET_HDR: virtio_net_hdr without num_buffers */
#define NL_MAX_BATCH 1024

enum { NL_KIND_TAP = 1, NL_KIND_PACKET = 2 };

/* Indices into the JS-owned Float64Array of counters. */
enum { ST_RX_PACKETS, ST_RX_BYTES, ST_TX_PACKETS, ST_TX_BYTES, ST_TX_DROPPED, ST_RX_ERRORS, ST_COUNT };

/* open() flags passed from JS */
enum { NL_F_VNET = 1, NL_F_MULTI_QUEUE = 2 };

typedef struct nl_link nl_link;

struct nl_link {
  napi_env env;
  int kind;
  int fd;
  int vnet;
  int ifindex;
  char name[IFNAMSIZ];

  int closed;
  int polling;
  int poll_inited;
  int poll_closing;
  int js_finalized;
  int in_cb;
  uv_poll_t poll;

  napi_ref self_ref;   /* strong while started: a running link is not collected */
  napi_ref cb_ref;
  napi_ref slab_ref;
  napi_ref off_ref;
  napi_ref len_ref;
  napi_ref stats_ref;
  napi_async_context actx;
  int cleanup_hook;

  double *stats;
  uint8_t *slab;
  size_t slab_len;
  int32_t *off;
  int32_t *len;
  int batch;
  int drain;          /* most batches read per wakeup */
  int slot;
  int headroom;

  /* AF_PACKET batching scratch, sized NL_MAX_BATCH */
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_ll *addrs;
};

/* Throw an Error "WHAT: strerror(err)" with .code (e.g. "EPERM"), .errno and .syscall. */
void nl_throw_errno(napi_env env, const char *what, int err);
void nl_throw(napi_env env, const char *msg);

int nl_tap_open(napi_env env, nl_link *l, const char *name, int flags);
int nl_tap_rx(nl_link *l, int max);
int nl_tap_tx(nl_link *l, const uint8_t *buf, size_t buflen, const int32_t *off, const int32_t *len, int count);

int nl_packet_open(napi_env env, nl_link *l, const char *ifname, int flags);
int nl_packet_prepare(nl_link *l);
int nl_packet_rx(nl_link *l, int max);
int nl_packet_tx(nl_link *l, const uint8_t *buf, size_t buflen, const int32_t *off, const int32_t *len, int count);

napi_value nl_if_up(napi_env env, napi_callback_info info);
napi_value nl_if_get_mtu(napi_env env, napi_callback_info info);
napi_value nl_if_set_mtu(napi_env env, napi_callback_info info);
napi_value nl_if_set_txqlen(napi_env env, napi_callback_info info);
napi_value nl_if_get_mac(napi_env env, napi_callback_info info);
napi_value nl_if_index(napi_env env, napi_callback_info info);
int nl_ifname_arg(napi_env env, napi_value v, char out[IFNAMSIZ]);

napi_value nl_busy_poll(napi_env env, napi_callback_info info);

napi_value nl_link_class(napi_env env);
napi_value nl_open_tap(napi_env env, napi_callback_info info);
napi_value nl_open_packet(napi_env env, napi_callback_info info);

#endif
