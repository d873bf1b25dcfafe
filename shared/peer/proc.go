package peer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// ProcessOfInode finds a process holding the socket with this inode (from
// TCPPeerUID) and its executable, by reading every /proc/<pid>/fd link. That
// is milliseconds on a busy host, so use it to enrich audit records, never on
// the decision path. It stops at the first holder; a socket shared across
// fork has several, and any one of them is as good an answer.
//
// Without root only the caller's own processes are visible. If the process
// is found but its executable cannot be read, pid is set and err says why.
// A socket nobody holds yields an error wrapping ErrNotFound.
func ProcessOfInode(inode uint32) (pid int, exe string, err error) {
	if inode == 0 {
		return 0, "", fmt.Errorf("process of socket inode 0: %w", ErrNotFound)
	}
	procs, err := readDirNames("/proc")
	if err != nil {
		return 0, "", fmt.Errorf("process of socket inode %d: %w", inode, err)
	}
	want := "socket:[" + strconv.FormatUint(uint64(inode), 10) + "]"
	for _, name := range procs {
		p, err := strconv.Atoi(name)
		if err != nil || p <= 0 {
			continue
		}
		if !holds(p, want) {
			continue
		}
		exe, err := os.Readlink("/proc/" + name + "/exe")
		if err != nil {
			return p, "", fmt.Errorf("process %d holding socket inode %d: %w", p, inode, err)
		}
		return p, exe, nil
	}
	return 0, "", fmt.Errorf("process of socket inode %d: %w", inode, ErrNotFound)
}

// holds reports whether process pid has a descriptor linked to target.
// Processes that exit mid-scan or whose fds we may not read are skipped.
func holds(pid int, target string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	fds, err := readDirNames(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if link, err := os.Readlink(dir + fd); err == nil && link == target {
			return true
		}
	}
	return false
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return names, nil
}
