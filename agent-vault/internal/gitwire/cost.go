package gitwire

// The limits below bound what resolving a pushed pack costs, checked
// from the objects' headers before go-git parses it. They are variables
// so tests can lower them.
var (
	// MaxObjects bounds the objects in one pack: go-git keeps several
	// index entries per object, and a 256 MiB pack could hold 11M tiny
	// ones (several GB).
	MaxObjects uint32 = 200_000
	// MaxResolveBytes bounds the bytes inflated or produced while
	// resolving the whole pack, counting each delta as its result plus
	// its base's cost again (go-git may re-resolve a chain for each link
	// when its cache does not hold the base).
	MaxResolveBytes uint64 = 2 << 30
	// MaxChainBytes bounds one delta chain's sizes summed: while go-git
	// resolves a delta it holds every object along its chain at once.
	MaxChainBytes uint64 = 256 << 20
)

// MaxDeltaDepth bounds a delta chain (git's own pack.depth default).
const MaxDeltaDepth = 50
