/* Module entry: exports openTap, openPacket, the NativeLink class and the by-name
 * interface controls. */
#include "link.h"

#include <stdlib.h>

static void free_ctor(napi_env env, void *data, void *hint) {
  napi_ref *r = data;
  napi_delete_reference(env, *r);
  free(r);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value cls = nl_link_class(env);
  napi_ref *ctor = malloc(sizeof *ctor);
  napi_create_reference(env, cls, 1, ctor);
  napi_set_instance_data(env, ctor, free_ctor, NULL);
  napi_property_descriptor props[] = {
    {"NativeLink", NULL, NULL, NULL, NULL, cls, napi_enumerable, NULL},
    {"openTap", NULL, nl_open_tap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"openPacket", NULL, nl_open_packet, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifUp", NULL, nl_if_up, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifGetMtu", NULL, nl_if_get_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifSetMtu", NULL, nl_if_set_mtu, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifSetTxQueueLen", NULL, nl_if_set_txqlen, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifGetMac", NULL, nl_if_get_mac, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ifIndex", NULL, nl_if_index, NULL, NULL, NULL, napi_enumerable, NULL},
    {"busyPoll", NULL, nl_busy_poll, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
