package proxy

import (
	"bufio"
	"io"
	"net"
	"sync"
)

// splice copies both ways until both sides are done, replaying first (the
// peeked ClientHello) and whatever the client had already buffered. Once
// the buffer is empty it copies from the raw connections, so the kernel can
// splice TCP to TCP without copying through user space.
func (s *Server) splice(client net.Conn, br *bufio.Reader, up net.Conn, first []byte) (upBytes, downBytes int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, _ := io.Copy(client, up)
		downBytes = n
		closeWrite(client)
	}()
	if len(first) > 0 {
		n, err := up.Write(first)
		upBytes += int64(n)
		if err != nil {
			up.Close()
		}
	}
	if k := br.Buffered(); k > 0 {
		b, _ := br.Peek(k)
		n, _ := up.Write(b)
		br.Discard(k)
		upBytes += int64(n)
	}
	n, _ := io.Copy(up, client)
	upBytes += n
	closeWrite(up)
	wg.Wait()
	return upBytes, downBytes
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
