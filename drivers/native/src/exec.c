/* execv(path, argv): replace this process image (same PID, same open stdio) with a new
 * program; returns only on failure, by throwing. The router uses it once at start-up to
 * re-launch node with the V8 flags it needs (see src/vmflags.ts). */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *str_arg(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

napi_value nl_execv(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_array = false;
  if (argc < 2 || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "execv(path: string, argv: string[])");
    return NULL;
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  char *path = str_arg(env, argv[0]);
  char **args = calloc((size_t)n + 1, sizeof *args);
  int ok = path != NULL && args != NULL;
  for (uint32_t i = 0; ok && i < n; i++) {
    napi_value e;
    napi_get_element(env, argv[1], i, &e);
    args[i] = str_arg(env, e);
    if (!args[i]) ok = 0;
  }
  int err = EINVAL;
  if (ok) {
    /* Node opens its stdio close-on-exec: the new image must keep them. */
    for (int fd = 0; fd <= 2; fd++) {
      int fl = fcntl(fd, F_GETFD);
      if (fl >= 0 && (fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    }
    execv(path, args);
    err = errno;
  }
  if (args) {
    for (uint32_t i = 0; i < n; i++) free(args[i]);
    free(args);
  }
  free(path);
  nl_throw_errno(env, "execv", err);
  return NULL;
}
