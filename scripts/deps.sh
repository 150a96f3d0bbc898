#!/bin/sh
# Installs the system packages nacl-router's tests, demo and benchmark use (Debian), and builds the
# native link driver if it is missing. Idempotent: does nothing when everything is present.
set -e
cd "$(dirname "$0")/.."
need=""
check() { command -v "$1" >/dev/null 2>&1 || need="$need $2"; }
check ip iproute2
check ping iputils-ping
check tshark tshark
check iperf3 iperf3
check hping3 hping3
check nmap nmap
check socat socat
check nc netcat-openbsd
check iptables iptables
check nft nftables
check tcpdump tcpdump
check ethtool ethtool
check curl curl
check rsyslogd rsyslog
check dnsmasq dnsmasq-base
check gcc gcc
check g++ g++
check make make
check python3 python3
check taskset util-linux
# The guest image (nacl-router image / boot, npm run test:image): QEMU, the disk image tools,
# busybox for the guest's init, zstd for the initramfs, depmod for the kernel's module data.
check qemu-system-x86_64 qemu-system-x86
check qemu-img qemu-utils
check busybox busybox-static
check syslinux syslinux
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || need="$need syslinux-common"
check mcopy mtools
check mkfs.fat dosfstools
check zstd zstd
check depmod kmod
check strip binutils
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "nacl-router: missing packages:$need (run as root to install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if ! ls drivers/native/build/Release/*.node >/dev/null 2>&1 && [ -f drivers/native/binding.gyp ]; then
  npm run install
fi
