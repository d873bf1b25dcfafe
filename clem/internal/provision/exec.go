package provision

import (
	"os"
	"os/exec"
	"path/filepath"
)

// tool finds a system program in the usual sbin and bin directories first,
// so provision works under sudo's or a test's short PATH.
func tool(name string) string {
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}
