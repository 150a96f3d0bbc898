/* Poll mode for the event loop: while on, an idle handle keeps libuv from blocking, so every
 * loop turn checks the links with a zero-timeout epoll_wait instead of sleeping until the
 * kernel wakes the thread. A frame is then picked up within one loop turn, with no wakeup
 * latency, at the price of a core that is always busy (as in DPDK-style poll mode drivers).
 * The handle is unreferenced: it never keeps the process alive, and it is closed at env
 * teardown. */
#include "link.h"

#include <stdlib.h>

typedef struct {
  uv_idle_t idle;
  int started;
} nl_busy;

static void on_idle(uv_idle_t *h) {
  (void)h;
}

static void on_closed(uv_handle_t *h) {
  free(h->data);
}

static void busy_cleanup(void *arg) {
  nl_busy *b = arg;
  uv_close((uv_handle_t *)&b->idle, on_closed);
}

static nl_busy *busy_get(napi_env env) {
  static nl_busy *busy = NULL;
  if (busy) return busy;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  nl_busy *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  int r = uv_idle_init(loop, &b->idle);
  if (r < 0) {
    free(b);
    nl_throw_errno(env, "uv_idle_init", -r);
    return NULL;
  }
  b->idle.data = b;
  uv_unref((uv_handle_t *)&b->idle);
  napi_add_env_cleanup_hook(env, busy_cleanup, b);
  busy = b;
  return b;
}

/* busyPoll(on: boolean): previous state. */
napi_value nl_busy_poll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool on = false;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "busyPoll(on: boolean)");
    return NULL;
  }
  nl_busy *b = busy_get(env);
  if (!b) return NULL;
  int was = b->started;
  if (on && !b->started) {
    int r = uv_idle_start(&b->idle, on_idle);
    if (r < 0) {
      nl_throw_errno(env, "uv_idle_start", -r);
      return NULL;
    }
    b->started = 1;
  } else if (!on && b->started) {
    uv_idle_stop(&b->idle);
    b->started = 0;
  }
  napi_get_boolean(env, was, &out);
  return out;
}
