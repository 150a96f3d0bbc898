/* Reference TAP forwarder: bridges two TAP devices it creates, one read() and one write() per
 * frame, single-threaded, no batching, no parsing. It marks the userspace TAP I/O limit the
 * router is compared against. With -v the TAPs use IFF_VNET_HDR with checksum/TSO offloads,
 * so 64 KB TCP super-frames (and their virtio_net_hdr) pass through unchanged.
 *
 * usage: tapfwd [-v] TAP0 TAP1
 * Prints "ready" on stdout once both devices exist; on SIGINT/SIGTERM prints counters as JSON. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int open_tap(const char *name, int vnet) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { perror("open /dev/net/tun"); exit(2); }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(2); }
  if (vnet) {
    int sz = 12;
    if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) { perror("TUNSETVNETHDRSZ"); exit(2); }
    if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) < 0) {
      perror("TUNSETOFFLOAD"); exit(2);
    }
  }
  return fd;
}

int main(int argc, char **argv) {
  int vnet = 0, a = 1;
  if (argc > 1 && strcmp(argv[1], "-v") == 0) { vnet = 1; a = 2; }
  if (argc - a != 2) { fprintf(stderr, "usage: tapfwd [-v] TAP0 TAP1\n"); return 2; }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int fd[2] = { open_tap(argv[a], vnet), open_tap(argv[a + 1], vnet) };
  static unsigned char buf[65536 + 64];
  unsigned long long frames[2] = { 0, 0 }, dropped[2] = { 0, 0 };
  printf("ready\n");
  fflush(stdout);
  struct pollfd p[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
  while (!stop) {
    int n = poll(p, 2, 200);
    if (n < 0) { if (errno == EINTR) continue; perror("poll"); return 1; }
    for (int i = 0; i < 2; i++) {
      if (!(p[i].revents & POLLIN)) continue;
      /* Bounded per wakeup so one direction cannot starve the other. */
      for (int k = 0; k < 256; k++) {
        ssize_t r = read(fd[i], buf, sizeof buf);
        if (r <= 0) break;
        if (write(fd[1 - i], buf, (size_t)r) != r) dropped[i]++;
        else frames[i]++;
      }
    }
  }
  printf("{\"frames0to1\":%llu,\"frames1to0\":%llu,\"dropped0to1\":%llu,\"dropped1to0\":%llu}\n",
         frames[0], frames[1], dropped[0], dropped[1]);
  return 0;
}
