package peer

import (
	"errors"
	"os"
	"testing"
)

func TestProcessOfInode(t *testing.T) {
	_, client := connPair(t, "tcp4", "127.0.0.1:0", sameAddr)
	inode := socketInode(t, client)
	pid, exe, err := ProcessOfInode(inode)
	if err != nil {
		t.Fatalf("ProcessOfInode(%d): %v", inode, err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if pid != os.Getpid() || exe != self {
		t.Errorf("ProcessOfInode(%d) = %d, %q; want %d, %q (ourselves)", inode, pid, exe, os.Getpid(), self)
	}
}

func TestProcessOfInodeNotFound(t *testing.T) {
	_, client := connPair(t, "tcp4", "127.0.0.1:0", sameAddr)
	inode := socketInode(t, client)
	client.Close()
	for _, ino := range []uint32{0, inode} {
		if pid, exe, err := ProcessOfInode(ino); !errors.Is(err, ErrNotFound) {
			t.Errorf("ProcessOfInode(%d) = %d, %q, %v; want ErrNotFound", ino, pid, exe, err)
		}
	}
}
