#!/bin/sh
# Runs as PID 1 of fresh pid, mount, uts, ipc and net namespaces (started by
# sdns_test.go through unshare) until it execs systemd. Follows
# shared/SYSTEMD-NS.md: own cgroup subtree, private /run /tmp /var/tmp /dev,
# read-only /proc/sys, a bind-mounted copy of the unit directory.
# $S is the instance's host directory, $CG its cgroup.
set -eu
cut -d' ' -f4 /proc/self/stat > "$S/pid.tmp"   # our host PID, host /proc still mounted
echo 0 > "$CG/cgroup.procs"
CONSOLE=$(tty)
mount -t proc -o nosuid,nodev,noexec proc /proc
mount --bind /proc/sys /proc/sys; mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net; mount -o remount,bind,rw /proc/sys/net
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m wdns-run /run
# the instance directory stays reachable inside (the test binary runs from it)
mkdir /run/wdns; mount --bind "$S" /run/wdns
D=/run/wdns-dev; mkdir $D; mount -t tmpfs -o mode=0755,nosuid,size=4m wdns-dev $D
mknod -m 666 $D/null c 1 3; mknod -m 666 $D/zero c 1 5; mknod -m 666 $D/full c 1 7
mknod -m 666 $D/random c 1 8; mknod -m 666 $D/urandom c 1 9; mknod -m 666 $D/tty c 5 0
mknod -m 600 $D/kmsg c 1 3
touch $D/console; mount --bind "$CONSOLE" $D/console
mkdir $D/pts $D/shm $D/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $D/pts; ln -s pts/ptmx $D/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev shm $D/shm; mount -t mqueue mqueue $D/mqueue
ln -s /proc/self/fd $D/fd; ln -s /proc/self/fd/0 $D/stdin
ln -s /proc/self/fd/1 $D/stdout; ln -s /proc/self/fd/2 $D/stderr
mount --move $D /dev; rmdir $D
mkdir -p /run/systemd/system /run/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToWall=no\nForwardToConsole=no\n' \
  > /run/systemd/journald.conf.d/wdns.conf
# $S is under the host /tmp: from here on it is /run/wdns
mount -t tmpfs -o mode=1777,nosuid,nodev wdns-tmp /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev wdns-vartmp /var/tmp
mount --bind /run/wdns/system /etc/systemd/system
mount --make-rshared /
mv /run/wdns/pid.tmp /run/wdns/pid
exec unshare -C /bin/sh -c 'mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup && exec env -i container=wdns SYSTEMD_UNIT_PATH=/etc/systemd/system:/run/systemd/system:/run/systemd/transient SYSTEMD_GENERATOR_PATH=/nonexistent SYSTEMD_ENVIRONMENT_GENERATOR_PATH=/nonexistent /lib/systemd/systemd --unit=wdns.target --log-target=journal --show-status=no'
