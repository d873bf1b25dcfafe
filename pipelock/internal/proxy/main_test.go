package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// floodEnv selects the flooding agent when the test binary is re-executed
// as another user: "proxy-addr,target,holds".
const floodEnv = "PIPELOCK_TEST_FLOOD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(floodEnv); spec != "" {
		if err := flood(spec); err != nil {
			fmt.Fprintln(os.Stderr, "flood helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// A test that leaves a server, tunnel or upstream running fails the
	// package.
	goleak.VerifyTestMain(m)
}

// flood is the attacking agent: it opens holds CONNECT tunnels (each
// answered 200, then left idle waiting for a ClientHello, as 24k idle
// connections did in the issue), then opens new connections as fast as it
// can from four goroutines, each answered and closed. It prints "ready"
// once the proxy has refused one (so its cap is full), keeps flooding until
// stdin closes, and prints how many were refused.
func flood(spec string) error {
	parts := strings.SplitN(spec, ",", 3)
	if len(parts) != 3 {
		return fmt.Errorf("bad spec %q", spec)
	}
	addr, target := parts[0], parts[1]
	holds, err := strconv.Atoi(parts[2])
	if err != nil {
		return fmt.Errorf("bad spec %q: %w", spec, err)
	}
	var held []net.Conn
	for range holds {
		c, code, err := connectTo(addr, target)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("tunnel %d of %d: status %d, want 200", len(held)+1, holds, code)
		}
		held = append(held, c)
	}
	var refused, other atomic.Int64
	var once sync.Once
	stop := make(chan struct{})
	go func() { bufio.NewReader(os.Stdin).ReadString('\n'); close(stop) }()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, code, err := connectTo(addr, target)
				if err != nil {
					other.Add(1)
					continue
				}
				c.Close()
				if code == http.StatusServiceUnavailable {
					refused.Add(1)
					once.Do(func() { fmt.Println("ready") })
				} else {
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	for _, c := range held {
		c.Close()
	}
	fmt.Printf("refused %d other %d\n", refused.Load(), other.Load())
	return nil
}

func connectTo(addr, target string) (net.Conn, int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, 0, err
	}
	return c, resp.StatusCode, nil
}
