package broker

import (
	"context"
	"fmt"
	"net/http/httptrace"
	"net/textproto"
)

// withInterim records the header of every 1xx response a client request
// receives, as text.
func withInterim(ctx context.Context, into *[]string) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			*into = append(*into, fmt.Sprintf("%d %v", code, h))
			return nil
		},
	})
}
