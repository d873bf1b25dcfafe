package peer

import (
	"errors"
	"os"
	"testing"

	"github.com/clemhq/clem/shared/testutil/netns"
)

// TestResolverNamespace checks that a Resolver sees the namespace it was
// made in, and the shared one only the process's. Making a namespace needs
// root; without it only the host half runs.
func TestResolverNamespace(t *testing.T) {
	r, err := NewResolver()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	server, client := connPair(t, "tcp4", "127.0.0.1:0", sameAddr)
	if _, inode, err := r.TCPPeerUID(server); err != nil || inode != socketInode(t, client) {
		t.Fatalf("Resolver.TCPPeerUID = inode %d, %v; want %d", inode, err, socketInode(t, client))
	}
	if os.Getuid() != 0 {
		t.Log("not root: a namespace-bound Resolver is checked only as root (CI)")
		return
	}
	netns.Run(t, func() {
		inNS, err := NewResolver()
		if err != nil {
			t.Fatal(err)
		}
		defer inNS.Close()
		server, client := connPair(t, "tcp4", "127.0.0.1:0", sameAddr)
		if _, inode, err := inNS.TCPPeerUID(server); err != nil || inode != socketInode(t, client) {
			t.Errorf("namespace Resolver.TCPPeerUID = inode %d, %v; want %d", inode, err, socketInode(t, client))
		}
		// The shared resolver looks in the process's namespace, even when
		// called from this thread.
		if _, _, err := TCPPeerUID(server); !errors.Is(err, ErrNotFound) {
			t.Errorf("TCPPeerUID of a connection in another namespace = %v, want ErrNotFound", err)
		}
		// Served from a goroutine outside the namespace, as a proxy would.
		errc := make(chan error, 1)
		go func() {
			_, _, err := inNS.TCPPeerUID(server)
			errc <- err
		}()
		if err := <-errc; err != nil {
			t.Errorf("namespace Resolver from another goroutine: %v", err)
		}
	})
}
