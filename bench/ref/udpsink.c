/* UDP receiver that counts datagrams on one port (recvmmsg, large receive buffer).
 *
 * usage: udpsink [-p PORT] [-i IDLE_MS] [-w MAX_MS]
 * Prints "ready" once bound. Stops when IDLE_MS pass without a datagram after the first one,
 * after MAX_MS in total, or on SIGINT/SIGTERM; then prints one JSON line:
 * count, first_ns and last_ns (CLOCK_MONOTONIC arrival times of the first and last datagram). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define B 64
static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int port = 9000, idle_ms = 300, max_ms = 60000, opt;
  while ((opt = getopt(argc, argv, "p:i:w:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'i': idle_ms = atoi(optarg); break;
      case 'w': max_ms = atoi(optarg); break;
      default: fprintf(stderr, "bad option\n"); return 2;
    }
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) { perror("socket"); return 2; }
  int rcvbuf = 32 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 2; }
  static unsigned char buf[B][2048];
  struct iovec iov[B];
  struct mmsghdr msg[B];
  memset(msg, 0, sizeof msg);
  for (int i = 0; i < B; i++) {
    iov[i].iov_base = buf[i];
    iov[i].iov_len = sizeof buf[i];
    msg[i].msg_hdr.msg_iov = &iov[i];
    msg[i].msg_hdr.msg_iovlen = 1;
  }
  printf("ready\n");
  fflush(stdout);
  uint64_t start = now_ns(), first = 0, last = 0;
  unsigned long long count = 0;
  struct pollfd p = { fd, POLLIN, 0 };
  while (!stop) {
    uint64_t t = now_ns();
    if (t - start >= (uint64_t)max_ms * 1000000ull) break;
    if (count > 0 && t - last >= (uint64_t)idle_ms * 1000000ull) break;
    int r = recvmmsg(fd, msg, B, 0, NULL);
    if (r > 0) {
      uint64_t at = now_ns();
      if (count == 0) first = at;
      last = at;
      count += (unsigned)r;
      continue;
    }
    if (r < 0 && errno != EAGAIN && errno != EINTR) { perror("recvmmsg"); return 1; }
    poll(&p, 1, 20);
  }
  printf("{\"count\":%llu,\"first_ns\":%llu,\"last_ns\":%llu}\n", count,
         (unsigned long long)first, (unsigned long long)last);
  return 0;
}
