/* Paced UDP packet generator with sendmmsg.
 *
 * usage: udpgen -d DST [-p DPORT] [-r PPS] [-t SECONDS] [-n COUNT] [-l PAYLOAD]
 *               [-f SRC]   new-flow mode: raw IPv4 socket, source SRC, a new source port for
 *                          every packet (1024..65535, so COUNT <= 64512 gives all-new flows)
 *   -r 0 (default) sends unpaced; otherwise packets leave in small batches on a fixed schedule
 *   that never runs more than 1 ms behind (missed slots are skipped, not sent in a burst).
 *   -l 18 (default) makes 64-byte Ethernet frames (14 + 20 + 8 + 18 + 4 FCS).
 * Prints one JSON line: attempted, sent (accepted by the kernel), errors, elapsed_ns. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXB 64
#define MAX_LAG_NS 1000000ull
static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  const char *dst = NULL, *src = NULL;
  int dport = 9000, payload = 18, opt;
  double rate = 0, seconds = 1;
  long long count = -1;
  while ((opt = getopt(argc, argv, "d:p:r:t:n:l:f:")) != -1) {
    switch (opt) {
      case 'd': dst = optarg; break;
      case 'p': dport = atoi(optarg); break;
      case 'r': rate = atof(optarg); break;
      case 't': seconds = atof(optarg); break;
      case 'n': count = atoll(optarg); break;
      case 'l': payload = atoi(optarg); break;
      case 'f': src = optarg; break;
      default: fprintf(stderr, "bad option\n"); return 2;
    }
  }
  if (!dst || payload < 0 || payload > 1400) { fprintf(stderr, "usage: udpgen -d DST ...\n"); return 2; }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)dport) };
  if (inet_pton(AF_INET, dst, &to.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", dst); return 2; }

  static unsigned char pkt[MAXB][1500];
  struct iovec iov[MAXB];
  struct mmsghdr msg[MAXB];
  int fd, hdr = 0;
  if (src) {
    fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    hdr = 28;
  } else {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
  }
  if (fd < 0) { perror("socket"); return 2; }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
  if (!src && connect(fd, (struct sockaddr *)&to, sizeof to) < 0) { perror("connect"); return 2; }
  struct in_addr saddr = { 0 };
  if (src && inet_pton(AF_INET, src, &saddr) != 1) { fprintf(stderr, "bad address %s\n", src); return 2; }
  memset(msg, 0, sizeof msg);
  for (int i = 0; i < MAXB; i++) {
    memset(pkt[i], 0, sizeof pkt[i]);
    if (src) {
      struct iphdr *ip = (struct iphdr *)pkt[i];
      ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_UDP;
      ip->tot_len = htons((uint16_t)(hdr + payload));
      ip->saddr = saddr.s_addr; ip->daddr = to.sin_addr.s_addr;
      struct udphdr *u = (struct udphdr *)(pkt[i] + 20);
      u->dest = htons((uint16_t)dport);
      u->len = htons((uint16_t)(8 + payload));
      msg[i].msg_hdr.msg_name = &to;
      msg[i].msg_hdr.msg_namelen = sizeof to;
    }
    iov[i].iov_base = pkt[i];
    iov[i].iov_len = (size_t)(hdr + payload);
    msg[i].msg_hdr.msg_iov = &iov[i];
    msg[i].msg_hdr.msg_iovlen = 1;
  }

  int batch = MAXB;
  if (rate > 0) {
    batch = (int)(rate / 20000);
    if (batch < 1) batch = 1;
    if (batch > MAXB) batch = MAXB;
  }
  uint64_t begin = now_ns(), start = begin, end = begin + (uint64_t)(seconds * 1e9);
  unsigned long long attempted = 0, sent = 0, errors = 0, seq = 0;
  while (!stop) {
    uint64_t t = now_ns();
    if (t >= end) break;
    if (count >= 0 && (long long)attempted >= count) break;
    if (rate > 0) {
      uint64_t due = start + (uint64_t)((double)attempted * 1e9 / rate);
      /* After a stall (the load core is shared) skip the missed slots instead of bursting
       * them out: a paced trial must never offer more than its rate. The achieved rate is
       * what gets reported. */
      if (t > due + MAX_LAG_NS) {
        start += t - due - MAX_LAG_NS;
        due = t - MAX_LAG_NS;
      }
      if (due > t) {
        uint64_t wait = due - t;
        if (wait > 50000) {
          struct timespec ts = { 0, (long)(wait - 20000) };
          nanosleep(&ts, NULL);
        }
        continue;
      }
    }
    int n = batch;
    if (count >= 0 && (long long)(attempted + (unsigned)n) > count) n = (int)(count - (long long)attempted);
    if (src) {
      for (int i = 0; i < n; i++) {
        struct udphdr *u = (struct udphdr *)(pkt[i] + 20);
        u->source = htons((uint16_t)(1024 + (seq++ % 64512)));
      }
    }
    int off = 0;
    while (off < n) {
      int r = sendmmsg(fd, msg + off, (unsigned)(n - off), 0);
      if (r < 0) {
        if (errno == EINTR && stop) break;
        errors++;
        off++; /* the first message of the batch was refused (ENOBUFS and the like) */
        continue;
      }
      sent += (unsigned)r;
      off += r;
    }
    attempted += (unsigned)n;
  }
  uint64_t elapsed = now_ns() - begin;
  printf("{\"attempted\":%llu,\"sent\":%llu,\"errors\":%llu,\"elapsed_ns\":%llu}\n",
         attempted, sent, errors, (unsigned long long)elapsed);
  return 0;
}
