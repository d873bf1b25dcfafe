package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// listen binds addr for the config key named key. It fails loudly: a port
// pipelock cannot bind may be held by an agent waiting for its clients (a
// squatter), so the error names the port and, when the kernel says who
// holds it, that uid.
func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	msg := fmt.Sprintf("%s %s: cannot bind: %v", key, addr, err)
	if errors.Is(err, syscall.EADDRINUSE) {
		if ap, perr := netip.ParseAddrPort(addr); perr == nil {
			if h := portHolders(ap.Port()); h != "" {
				msg += "; the port is held by " + h
			}
		}
	}
	return nil, errors.New(msg)
}

// portHolders names the owners of listening TCP sockets on port in this
// network namespace, from /proc/net/tcp and tcp6: the kernel's record of
// who made each socket, readable by any user, so it works under the unit's
// sandbox without privileges.
func portHolders(port uint16) string {
	seen := map[string]bool{}
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		for _, uid := range listeners(f, port) {
			who := "uid " + uid
			if u, err := user.LookupId(uid); err == nil {
				who += " (" + u.Username + ")"
			}
			if !seen[who] {
				seen[who] = true
				out = append(out, who)
			}
		}
	}
	return strings.Join(out, ", ")
}

// listeners returns the uids of the sockets in LISTEN state on port in the
// /proc/net/tcp-format file at path.
func listeners(path string, port uint16) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var uids []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[3] != "0A" { // TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || uint16(p) != port {
			continue
		}
		uids = append(uids, fields[7])
	}
	return uids
}
