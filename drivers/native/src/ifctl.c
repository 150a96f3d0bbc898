/* Interface control by name in the caller's network namespace (SIOC* ioctls on a datagram
 * socket): up/down, MTU get/set, MAC get, ifindex. An interface moved to another namespace
 * is not visible here (ENODEV). */
#include "link.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

int nl_ifname_arg(napi_env env, napi_value v, char out[IFNAMSIZ]) {
  size_t n = 0;
  char tmp[64];
  if (napi_get_value_string_utf8(env, v, tmp, sizeof tmp, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "interface name must be a string");
    return -1;
  }
  if (n == 0 || n >= IFNAMSIZ) {
    char what[96];
    snprintf(what, sizeof what, "interface name '%s'", tmp);
    nl_throw_errno(env, what, n == 0 ? EINVAL : ENAMETOOLONG);
    return -1;
  }
  memset(out, 0, IFNAMSIZ);
  memcpy(out, tmp, n);
  return 0;
}

static int ifreq_ioctl(napi_env env, const char *what, unsigned long req, struct ifreq *ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    nl_throw_errno(env, "socket(AF_INET)", errno);
    return -1;
  }
  int r = ioctl(s, req, ifr);
  int e = errno;
  close(s);
  if (r < 0) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s %s", what, ifr->ifr_name);
    nl_throw_errno(env, msg, e);
    return -1;
  }
  return 0;
}

static int name_args(napi_env env, napi_callback_info info, struct ifreq *ifr, napi_value *argv, size_t want) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "missing argument");
    return -1;
  }
  memset(ifr, 0, sizeof *ifr);
  return nl_ifname_arg(env, argv[0], ifr->ifr_name);
}

napi_value nl_if_up(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  bool up = false;
  if (name_args(env, info, &ifr, argv, 2) < 0) return NULL;
  napi_get_value_bool(env, argv[1], &up);
  if (ifreq_ioctl(env, "SIOCGIFFLAGS", SIOCGIFFLAGS, &ifr) < 0) return NULL;
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  if (ifreq_ioctl(env, "SIOCSIFFLAGS", SIOCSIFFLAGS, &ifr) < 0) return NULL;
  return NULL;
}

napi_value nl_if_get_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  struct ifreq ifr;
  if (name_args(env, info, &ifr, argv, 1) < 0) return NULL;
  if (ifreq_ioctl(env, "SIOCGIFMTU", SIOCGIFMTU, &ifr) < 0) return NULL;
  napi_create_int32(env, ifr.ifr_mtu, &out);
  return out;
}

/* (name, int) -> one SIOCSIF* ioctl that takes an int in the ifreq (MTU, txqueuelen). */
static napi_value set_int(napi_env env, napi_callback_info info, const char *what, unsigned long req, int qlen) {
  napi_value argv[2];
  struct ifreq ifr;
  int32_t v = 0;
  if (name_args(env, info, &ifr, argv, 2) < 0) return NULL;
  napi_get_value_int32(env, argv[1], &v);
  if (qlen) ifr.ifr_qlen = v;
  else ifr.ifr_mtu = v;
  ifreq_ioctl(env, what, req, &ifr);
  return NULL;
}

napi_value nl_if_set_mtu(napi_env env, napi_callback_info info) {
  return set_int(env, info, "SIOCSIFMTU", SIOCSIFMTU, 0);
}

napi_value nl_if_set_txqlen(napi_env env, napi_callback_info info) {
  return set_int(env, info, "SIOCSIFTXQLEN", SIOCSIFTXQLEN, 1);
}

napi_value nl_if_get_mac(napi_env env, napi_callback_info info) {
  napi_value argv[1], ab, out;
  struct ifreq ifr;
  void *data;
  if (name_args(env, info, &ifr, argv, 1) < 0) return NULL;
  if (ifreq_ioctl(env, "SIOCGIFHWADDR", SIOCGIFHWADDR, &ifr) < 0) return NULL;
  napi_create_arraybuffer(env, 6, &data, &ab);
  memcpy(data, ifr.ifr_hwaddr.sa_data, 6);
  napi_create_typedarray(env, napi_uint8_array, 6, ab, 0, &out);
  return out;
}

napi_value nl_if_index(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  struct ifreq ifr;
  if (name_args(env, info, &ifr, argv, 1) < 0) return NULL;
  if (ifreq_ioctl(env, "SIOCGIFINDEX", SIOCGIFINDEX, &ifr) < 0) return NULL;
  napi_create_int32(env, ifr.ifr_ifindex, &out);
  return out;
}
