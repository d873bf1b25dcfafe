package broker

import (
	"context"

	"github.com/clemhq/clem/agent-vault/internal/subst"
	"github.com/clemhq/clem/shared/audit"
)

func withRecord(ctx context.Context, rec *audit.Record) context.Context {
	return context.WithValue(ctx, recKey{}, rec)
}

// withScrubber carries the scrubber of the engine that substituted the
// request to the proxy's ModifyResponse (scrubResponse).
func withScrubber(ctx context.Context, sc *subst.Scrubber) context.Context {
	return context.WithValue(ctx, scrubberKey{}, sc)
}

func scrubberFrom(ctx context.Context) *subst.Scrubber {
	sc, _ := ctx.Value(scrubberKey{}).(*subst.Scrubber)
	return sc
}

type scrubberKey struct{}

func recordFrom(ctx context.Context) *audit.Record {
	rec, _ := ctx.Value(recKey{}).(*audit.Record)
	return rec
}
