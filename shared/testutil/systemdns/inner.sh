# Run by Boot as PID 1 of the new pid namespace (unshare -p -f -m -u -i
# [-n], every mount already private), as root, with the host's /proc, /sys
# and /tmp still visible. It builds the machine's private view, reports its
# host PID on fd 3 and execs systemd. Arguments: STATE CGROUP [BIND...].
# STATE holds etc/ (passwd copies), system/ (the unit directory) and
# cgroups: one line per host cgroup v1 hierarchy the machine gets (hybrid
# mode), "DIR OPTIONS HOSTPATH", empty on a unified host.
set -eu
S=$1 CG=$2
shift 2

read -r hostpid _ < /proc/self/stat      # the host's /proc is still mounted: host PID
echo 0 > "$CG/cgroup.procs"               # builtin echo: moves this shell, which becomes systemd
# The same in each v1 hierarchy: the cgroup namespace made below is rooted
# at these children, so systemd's slices land in them and nowhere else.
V1=""
while read -r dir opts path; do
  echo 0 > "$path/cgroup.procs"
  V1="$V1 $dir:$opts"
done < "$S/cgroups"
console=$(tty)
# Host directories to keep (read-only, same path) even where a private
# mount will cover them (/tmp, /run): park them in STATE now, under the new
# /run once it exists, and move them into place at the end.
i=0
for b in "$@"; do
  mkdir -p "$S/keep/$i"
  mount --bind "$b" "$S/keep/$i"
  i=$((i+1))
done

mount -t proc -o nosuid,nodev,noexec proc /proc
# kernel.* and vm.* are global: read-only. net.* belongs to this netns.
mount --bind /proc/sys /proc/sys; mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net; mount -o remount,bind,rw /proc/sys/net
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
mount -t tmpfs -o mode=0755,nosuid,nodev,size=256m systemdns-run /run
mkdir /run/systemdns-keep
i=0
for b in "$@"; do
  mkdir /run/systemdns-keep/$i
  mount --move "$S/keep/$i" /run/systemdns-keep/$i
  i=$((i+1))
done

# A private /dev: no host /dev/shm, /dev/log or /dev/kmsg (kmsg is a null
# device, so journald and PID 1 never write to the host's kernel log).
D=/run/systemdns-dev
mkdir $D
mount -t tmpfs -o mode=0755,nosuid,size=4m systemdns-dev $D
mknod -m 666 $D/null c 1 3; mknod -m 666 $D/zero c 1 5; mknod -m 666 $D/full c 1 7
mknod -m 666 $D/random c 1 8; mknod -m 666 $D/urandom c 1 9; mknod -m 666 $D/tty c 5 0
mknod -m 600 $D/kmsg c 1 3
touch $D/console; mount --bind "$console" $D/console
mkdir $D/pts $D/shm $D/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $D/pts; ln -s pts/ptmx $D/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev systemdns-shm $D/shm; mount -t mqueue mqueue $D/mqueue
ln -s /proc/self/fd $D/fd; ln -s /proc/self/fd/0 $D/stdin
ln -s /proc/self/fd/1 $D/stdout; ln -s /proc/self/fd/2 $D/stderr
mount --move $D /dev; rmdir $D

mkdir -p /run/systemd/system /run/systemd/journald.conf.d
printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToWall=no\nForwardToConsole=no\nForwardToSyslog=no\n' \
  > /run/systemd/journald.conf.d/systemdns.conf

# Account file copies (Options.Passwd) and units: bind them before /tmp
# (where STATE may live) is covered. The copies stay reachable under /run
# for RefreshPasswd: the kernel detaches a bind on /etc/passwd when the host
# renames a new /etc/passwd over it (useradd does), and it binds them again.
if [ -e "$S/etc/passwd" ]; then
  mkdir -p /run/systemdns/etc
  mount --bind "$S/etc" /run/systemdns/etc
  for f in passwd group shadow gshadow; do mount --bind /run/systemdns/etc/$f /etc/$f; done
fi
mount --bind "$S/system" /etc/systemd/system

mount -t tmpfs -o mode=1777,nosuid,nodev systemdns-tmp /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev systemdns-vartmp /var/tmp
i=0
for b in "$@"; do
  mkdir -p "$b"
  mount --move /run/systemdns-keep/$i "$b"
  mount -o remount,bind,ro "$b"
  i=$((i+1))
done
rmdir /run/systemdns-keep/* 2>/dev/null || true
rmdir /run/systemdns-keep

# unshare made every mount private, cut off from the host. Make them shared
# again, inside only, as on a real host: LoadCredential= mounts its ramfs in
# a child namespace and the service sees an empty directory otherwise.
mount --make-rshared /

echo "$hostpid" >&3
exec 3>&-
# A new cgroup namespace rooted at CGROUP (and at the v1 children above).
# Unified host or no v1 hierarchies: a cgroup2 mount of just that subtree.
# Hybrid: systemd's hybrid layout, a tmpfs with cgroup2 at unified/ and the
# host's v1 hierarchies (the same mount options, so the kernel reuses them;
# inside a cgroup namespace it refuses to create a new one) at DIR/, then
# read-only: systemd mounts every other controller it finds in
# /proc/cgroups, and a v1 hierarchy nobody moved into a child would have it
# make its slices at the host's root there.
exec unshare -C /bin/sh -c 'set -eu
if [ -z "$1" ]; then
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
else
  mount -t tmpfs -o mode=0755,nosuid,nodev,noexec,size=64k systemdns-cgroup /sys/fs/cgroup
  mkdir /sys/fs/cgroup/unified
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup/unified
  for h in $1; do
    dir=${h%%:*} opts=${h#*:}
    mkdir "/sys/fs/cgroup/$dir"
    mount -t cgroup -o "nosuid,nodev,noexec,$opts" cgroup "/sys/fs/cgroup/$dir"
    case $dir in *,*)  # a joint hierarchy (cpu,cpuacct): each name links to it, as systemd does
      for c in $(echo "$dir" | tr , " "); do ln -s "$dir" "/sys/fs/cgroup/$c"; done;;
    esac
  done
  mount -o remount,ro,nosuid,nodev,noexec systemdns-cgroup /sys/fs/cgroup
fi
exec env -i \
  container=systemdns \
  SYSTEMD_UNIT_PATH=/etc/systemd/system:/run/systemd/system:/run/systemd/transient \
  SYSTEMD_GENERATOR_PATH=/nonexistent SYSTEMD_ENVIRONMENT_GENERATOR_PATH=/nonexistent \
  /lib/systemd/systemd --unit=systemdns.target --log-target=journal --show-status=yes' systemdns-cgroup "$V1"
