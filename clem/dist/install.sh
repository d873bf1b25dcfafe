#!/bin/sh
# Install clem's seven binaries and systemd unit templates.
#   From an unpacked release tarball:  ./install.sh [--prefix /usr/local]
#   From a source tree after `make build`: clem/dist/install.sh --from .
#   Remove:                             ./install.sh --prefix P --uninstall
set -eu

prefix=/usr/local
from=$(cd "$(dirname "$0")" && pwd)
uninstall=0
binaries="clem pipelock agent-vault sidecar runner watchdog coord"

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --from) from=${2:?--from needs a directory}; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

bindir=$prefix/bin
unitdir=$prefix/share/clem/systemd

if [ "$uninstall" = 1 ]; then
  for b in $binaries; do rm -f "$bindir/$b"; done
  rm -rf "$prefix/share/clem"
  echo "removed clem from $prefix"
  exit 0
fi

for b in $binaries; do
  [ -x "$from/bin/$b" ] || { echo "install.sh: $from/bin/$b is missing; run make build first" >&2; exit 1; }
done
mkdir -p "$bindir" "$unitdir"
for b in $binaries; do
  # Copy then rename, so a running binary is never overwritten in place.
  install -m 0755 "$from/bin/$b" "$bindir/.$b.new"
  mv -f "$bindir/.$b.new" "$bindir/$b"
done
if [ -d "$from/systemd" ]; then
  cp -R "$from/systemd/." "$unitdir/"
fi
echo "installed $(echo $binaries | wc -w) binaries into $bindir and unit templates into $unitdir"
"$bindir/clem" --version
