{
  "targets": [
    {
      "target_name": "nacl_link",
      "sources": ["src/link.c", "src/tap.c", "src/packet.c", "src/ifctl.c", "src/busypoll.c", "src/addon.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
