#!/bin/sh
# /init of the default tsvisor guest (busybox). Mounts the kernel file
# systems, loads the virtio modules in dependency order, prints the marker
# the host waits for, and gives a shell on the console. Leaving the shell
# powers the guest off (ACPI S5).
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || echo "tsvisor-guest: devtmpfs mount failed"
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
if [ -f /etc/tsvisor-modules ]; then
  while read -r mod; do
    [ -n "$mod" ] || continue
    insmod "/lib/modules/$(uname -r)/$mod" 2>/dev/null || echo "tsvisor-guest: insmod $mod failed"
  done < /etc/tsvisor-modules
fi
hostname tsvisor-guest
echo "tsvisor-guest: init reached"
# An optional command from the kernel command line: tsvisor.cmd=<command with %20 for spaces>.
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    tsvisor.cmd=*) cmd=$(echo "${arg#tsvisor.cmd=}" | sed 's/%20/ /g'); echo "tsvisor-guest: running $cmd"; sh -c "$cmd" ;;
  esac
done
setsid cttyhack sh
echo "tsvisor-guest: shell exited, powering off"
poweroff -f
