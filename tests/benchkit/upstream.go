package benchkit

import (
	"io"
	"log"
	"net/http"
	"strings"
	"time"
)

// Body is the 1 KiB JSON document a bench's upstream answers GET / with;
// name tells the benches apart.
func Body(name string) []byte {
	head, tail := `{"bench":"`+name+`","pad":"`, "\"}\n"
	return []byte(head + strings.Repeat("x", 1024-len(head)-len(tail)) + tail)
}

// Server is an upstream server for h that is quiet about clients hanging
// up mid-handshake when a run ends, which is expected.
func Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
}
