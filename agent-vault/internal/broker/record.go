package broker

import (
	"context"

	"github.com/clemhq/clem/shared/audit"
)

func withRecord(ctx context.Context, rec *audit.Record) context.Context {
	return context.WithValue(ctx, recKey{}, rec)
}

func recordFrom(ctx context.Context) *audit.Record {
	rec, _ := ctx.Value(recKey{}).(*audit.Record)
	return rec
}
