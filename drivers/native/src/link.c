/* The NativeLink JS object: open (TAP or AF_PACKET), start (slab + callback, uv_poll
 * readiness), send (one native call per batch), close (idempotent; also run at env
 * teardown and on GC). Readiness calls JS once per batch with the frame count; offsets and
 * lengths are already written into the JS-owned Int32Arrays. Errors thrown by the JS
 * callback are re-raised as uncaught exceptions, never swallowed. */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

static const char *errno_code(int e) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *c = strerrorname_np(e);
  if (c) return c;
#endif
  return "EUNKNOWN";
}

void nl_throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, c, error, v;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &error);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  napi_throw(env, error);
}

void nl_throw(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
}

static void del_ref(napi_env env, napi_ref *r) {
  if (*r) {
    napi_delete_reference(env, *r);
    *r = NULL;
  }
}

static void maybe_free(nl_link *l) {
  if (!l->js_finalized) return;
  if (l->poll_inited && l->poll_closing) return;
  free(l->msgs);
  free(l->iov);
  free(l->addrs);
  free(l);
}

static void on_poll_closed(uv_handle_t *h) {
  nl_link *l = h->data;
  l->poll_closing = 0;
  l->poll_inited = 0;
  maybe_free(l);
}

/* Drops the JS references taken by start(); not while the callback runs. */
static void release_js(nl_link *l) {
  if (l->in_cb) return;
  napi_env env = l->env;
  del_ref(env, &l->cb_ref);
  del_ref(env, &l->slab_ref);
  del_ref(env, &l->off_ref);
  del_ref(env, &l->len_ref);
  if (l->actx) {
    napi_async_destroy(env, l->actx);
    l->actx = NULL;
  }
  del_ref(env, &l->self_ref);
}

static void env_cleanup(void *arg);

static void link_close(nl_link *l) {
  if (l->closed) return;
  l->closed = 1;
  if (l->poll_inited && !l->poll_closing) {
    l->polling = 0;
    l->poll_closing = 1;
    uv_close((uv_handle_t *)&l->poll, on_poll_closed);
  }
  if (l->fd >= 0) {
    close(l->fd);
    l->fd = -1;
  }
  if (l->cleanup_hook) {
    napi_remove_env_cleanup_hook(l->env, env_cleanup, l);
    l->cleanup_hook = 0;
  }
  release_js(l);
}

static void env_cleanup(void *arg) {
  nl_link *l = arg;
  l->cleanup_hook = 0;
  link_close(l);
}

static void finalize(napi_env env, void *data, void *hint) {
  nl_link *l = data;
  link_close(l);
  del_ref(env, &l->stats_ref);
  l->js_finalized = 1;
  maybe_free(l);
}

/* Reads and delivers up to l->drain batches, stopping early once a batch comes back short
 * (the queue is empty); the poll is level-triggered, so anything left fires again. */
static void on_poll(uv_poll_t *h, int status, int events) {
  nl_link *l = h->data;
  if (l->closed || !l->polling) return;
  if (status < 0) {
    l->stats[ST_RX_ERRORS]++;
    uv_poll_stop(&l->poll);
    l->polling = 0;
    return;
  }
  napi_env env = l->env;
  for (int round = 0; round < l->drain; round++) {
    int n = l->kind == NL_KIND_TAP ? nl_tap_rx(l, l->batch) : nl_packet_rx(l, l->batch);
    if (n <= 0 || l->closed) return;

    napi_handle_scope scope;
    napi_value cb, recv, arg, result;
    napi_open_handle_scope(env, &scope);
    napi_get_reference_value(env, l->cb_ref, &cb);
    napi_get_global(env, &recv);
    napi_create_int32(env, n, &arg);
    l->in_cb = 1;
    napi_status st = napi_make_callback(env, l->actx, recv, cb, 1, &arg, &result);
    l->in_cb = 0;
    if (st == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    napi_close_handle_scope(env, scope);
    if (l->closed) {
      release_js(l);
      return;
    }
    if (n < l->batch || !l->polling) return;
  }
}

static nl_link *unwrap_this(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *p = NULL;
  napi_get_cb_info(env, info, argc, argv, &self, NULL);
  if (napi_unwrap(env, self, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "not a NativeLink");
    return NULL;
  }
  return p;
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len, const char *what) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (!is || napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok || t != want) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s has the wrong type", what);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  return 0;
}

/* start(slab: ArrayBuffer, slot, headroom, off: Int32Array, len: Int32Array, batch, cb[, drain]) */
static napi_value m_start(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  nl_link *l = unwrap_this(env, info, &argc, argv);
  if (!l) return NULL;
  if (l->closed) {
    nl_throw(env, "link is closed");
    return NULL;
  }
  if (l->cb_ref) {
    nl_throw(env, "link already started");
    return NULL;
  }
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "start(slab, slot, headroom, off, len, batch, cb)");
    return NULL;
  }
  void *slab;
  size_t slab_len, off_n, len_n;
  bool isab = false;
  napi_is_arraybuffer(env, argv[0], &isab);
  if (!isab || napi_get_arraybuffer_info(env, argv[0], &slab, &slab_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "slab must be an ArrayBuffer");
    return NULL;
  }
  int32_t slot = 0, headroom = 0, batch = 0;
  napi_get_value_int32(env, argv[1], &slot);
  napi_get_value_int32(env, argv[2], &headroom);
  napi_get_value_int32(env, argv[5], &batch);
  int32_t drain = 1;
  if (argc >= 8 && napi_get_value_int32(env, argv[7], &drain) != napi_ok) drain = 1;
  if (drain < 1) drain = 1;
  if (drain > 64) drain = 64;
  void *offp, *lenp;
  if (typed(env, argv[3], napi_int32_array, &offp, &off_n, "off") < 0) return NULL;
  if (typed(env, argv[4], napi_int32_array, &lenp, &len_n, "len") < 0) return NULL;
  napi_valuetype cbt;
  napi_typeof(env, argv[6], &cbt);
  if (cbt != napi_function) {
    napi_throw_type_error(env, NULL, "cb must be a function");
    return NULL;
  }
  if (batch < 1 || batch > NL_MAX_BATCH || (size_t)batch > off_n || (size_t)batch > len_n ||
      headroom < (l->vnet ? NL_VNET_HDR_LEN : 0) || slot < headroom + 64 ||
      (size_t)slot * (size_t)batch > slab_len || (size_t)slot * (size_t)batch > 0x7fffffff) {
    napi_throw_range_error(env, NULL, "bad slab geometry (batch, slot, headroom)");
    return NULL;
  }
  l->slab = slab;
  l->slab_len = slab_len;
  l->slot = slot;
  l->headroom = headroom;
  l->batch = batch;
  l->drain = drain;
  l->off = offp;
  l->len = lenp;
  if (l->kind == NL_KIND_PACKET) nl_packet_prepare(l);

  napi_value self, name;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  napi_create_reference(env, argv[0], 1, &l->slab_ref);
  napi_create_reference(env, argv[3], 1, &l->off_ref);
  napi_create_reference(env, argv[4], 1, &l->len_ref);
  napi_create_reference(env, argv[6], 1, &l->cb_ref);
  napi_create_reference(env, self, 1, &l->self_ref);
  napi_create_string_utf8(env, "nacl-router:link", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &l->actx);

  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    release_js(l);
    nl_throw(env, "no libuv loop");
    return NULL;
  }
  int r = uv_poll_init(loop, &l->poll, l->fd);
  if (r < 0) {
    release_js(l);
    nl_throw_errno(env, "uv_poll_init", -r);
    return NULL;
  }
  l->poll.data = l;
  l->poll_inited = 1;
  r = uv_poll_start(&l->poll, UV_READABLE, on_poll);
  if (r < 0) {
    release_js(l);
    nl_throw_errno(env, "uv_poll_start", -r);
    return NULL;
  }
  l->polling = 1;
  return NULL;
}

/* send(buf: Uint8Array, off: Int32Array, len: Int32Array, count) -> frames written */
static napi_value m_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], out;
  nl_link *l = unwrap_this(env, info, &argc, argv);
  if (!l) return NULL;
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "send(buf, off, len, count)");
    return NULL;
  }
  void *buf, *offp, *lenp;
  size_t buf_n, off_n, len_n;
  int32_t count = 0;
  if (typed(env, argv[0], napi_uint8_array, &buf, &buf_n, "buf") < 0) return NULL;
  if (typed(env, argv[1], napi_int32_array, &offp, &off_n, "off") < 0) return NULL;
  if (typed(env, argv[2], napi_int32_array, &lenp, &len_n, "len") < 0) return NULL;
  napi_get_value_int32(env, argv[3], &count);
  if (count < 0) count = 0;
  if ((size_t)count > off_n) count = (int32_t)off_n;
  if ((size_t)count > len_n) count = (int32_t)len_n;
  int written = 0;
  if (l->closed) {
    l->stats[ST_TX_DROPPED] += count;
  } else if (count > 0) {
    written = l->kind == NL_KIND_TAP ? nl_tap_tx(l, buf, buf_n, offp, lenp, count)
                                     : nl_packet_tx(l, buf, buf_n, offp, lenp, count);
  }
  napi_create_int32(env, written, &out);
  return out;
}

static napi_value m_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_link *l = unwrap_this(env, info, &argc, NULL);
  if (l) link_close(l);
  return NULL;
}

/* The MAC of the kernel side: through the tun fd for TAP (works after the device moved to
 * another namespace), by name for AF_PACKET. */
static napi_value m_kernel_mac(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  nl_link *l = unwrap_this(env, info, &argc, NULL);
  if (!l) return NULL;
  if (l->closed) {
    nl_throw(env, "link is closed");
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, l->name, IFNAMSIZ);
  if (ioctl(l->fd, SIOCGIFHWADDR, &ifr) < 0) {
    nl_throw_errno(env, "SIOCGIFHWADDR", errno);
    return NULL;
  }
  napi_value ab, out;
  void *data;
  napi_create_arraybuffer(env, 6, &data, &ab);
  memcpy(data, ifr.ifr_hwaddr.sa_data, 6);
  napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &out);
  return out;
}

/* TAP only: carrier on/off as the kernel side sees it (TUNSETCARRIER). */
static napi_value m_set_carrier(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  nl_link *l = unwrap_this(env, info, &argc, argv);
  if (!l) return NULL;
  if (l->closed || l->kind != NL_KIND_TAP) {
    nl_throw(env, l->closed ? "link is closed" : "setCarrier is for TAP links");
    return NULL;
  }
  bool on = false;
  napi_get_value_bool(env, argv[0], &on);
  int v = on ? 1 : 0;
  if (ioctl(l->fd, TUNSETCARRIER, &v) < 0) nl_throw_errno(env, "TUNSETCARRIER", errno);
  return NULL;
}

static napi_value m_ctor(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  napi_get_cb_info(env, info, &argc, argv, &self, NULL);
  napi_valuetype t = napi_undefined;
  if (argc == 1) napi_typeof(env, argv[0], &t);
  if (t != napi_external) {
    nl_throw(env, "NativeLink is created by openTap() or openPacket()");
    return NULL;
  }
  return self;
}

napi_value nl_link_class(napi_env env) {
  napi_property_descriptor props[] = {
    {"start", NULL, m_start, NULL, NULL, NULL, napi_default_method, NULL},
    {"send", NULL, m_send, NULL, NULL, NULL, napi_default_method, NULL},
    {"close", NULL, m_close, NULL, NULL, NULL, napi_default_method, NULL},
    {"kernelMac", NULL, m_kernel_mac, NULL, NULL, NULL, napi_default_method, NULL},
    {"setCarrier", NULL, m_set_carrier, NULL, NULL, NULL, napi_default_method, NULL},
  };
  napi_value cls;
  napi_define_class(env, "NativeLink", NAPI_AUTO_LENGTH, m_ctor, NULL, sizeof props / sizeof props[0], props, &cls);
  return cls;
}

/* Shared tail of openTap/openPacket: wrap l in a new NativeLink with name/ifindex/fd. */
static napi_value make_link(napi_env env, nl_link *l, napi_value stats) {
  napi_ref *ctor_ref = NULL;
  napi_value ctor, ext, obj, v;
  napi_get_instance_data(env, (void **)&ctor_ref);
  napi_get_reference_value(env, *ctor_ref, &ctor);
  napi_create_external(env, l, NULL, NULL, &ext);
  if (napi_new_instance(env, ctor, 1, &ext, &obj) != napi_ok) return NULL;
  napi_wrap(env, obj, l, finalize, NULL, NULL);
  napi_create_reference(env, stats, 1, &l->stats_ref);
  napi_add_env_cleanup_hook(env, env_cleanup, l);
  l->cleanup_hook = 1;
  napi_create_string_utf8(env, l->name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "name", v);
  napi_create_int32(env, l->ifindex, &v);
  napi_set_named_property(env, obj, "ifindex", v);
  napi_create_int32(env, l->fd, &v);
  napi_set_named_property(env, obj, "fd", v);
  napi_get_boolean(env, l->vnet, &v);
  napi_set_named_property(env, obj, "vnetHdr", v);
  return obj;
}

/* open*(name, flags, stats: Float64Array(6)) */
static napi_value open_common(napi_env env, napi_callback_info info, int kind) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "open(name, flags, stats)");
    return NULL;
  }
  char name[IFNAMSIZ];
  if (nl_ifname_arg(env, argv[0], name) < 0) return NULL;
  int32_t flags = 0;
  napi_get_value_int32(env, argv[1], &flags);
  void *stats;
  size_t stats_n;
  if (typed(env, argv[2], napi_float64_array, &stats, &stats_n, "stats") < 0) return NULL;
  if (stats_n < ST_COUNT) {
    napi_throw_range_error(env, NULL, "stats needs 6 slots");
    return NULL;
  }
  nl_link *l = calloc(1, sizeof *l);
  if (!l) {
    nl_throw_errno(env, "calloc", ENOMEM);
    return NULL;
  }
  l->env = env;
  l->fd = -1;
  l->stats = stats;
  int r = kind == NL_KIND_TAP ? nl_tap_open(env, l, name, flags) : nl_packet_open(env, l, name, flags);
  if (r < 0) {
    free(l->msgs);
    free(l->iov);
    free(l->addrs);
    free(l);
    return NULL;
  }
  napi_value obj = make_link(env, l, argv[2]);
  if (!obj) {
    close(l->fd);
    free(l->msgs);
    free(l->iov);
    free(l->addrs);
    free(l);
  }
  return obj;
}

napi_value nl_open_tap(napi_env env, napi_callback_info info) {
  return open_common(env, info, NL_KIND_TAP);
}

napi_value nl_open_packet(napi_env env, napi_callback_info info) {
  return open_common(env, info, NL_KIND_PACKET);
}
