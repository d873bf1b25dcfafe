package ghpolicy

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// The hosts this policy governs.
const (
	hostGit     = "github.com"
	hostAPI     = "api.github.com"
	hostUploads = "uploads.github.com" // release assets: the same REST rules
)

// canonicalHost lower-cases a Host (or CONNECT target), drops any port and
// a trailing dot: every spelling that reaches GitHub is GitHub.
func canonicalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// Route says what a request is. It applies no policy beyond refusing what
// no policy allows; Check decides.
func (p *Policy) Route(host, method, escapedPath, rawQuery string) Route {
	switch canonicalHost(host) {
	case hostGit:
		return routeGit(method, escapedPath, rawQuery)
	case hostAPI, hostUploads:
		return routeAPI(method, escapedPath, rawQuery)
	}
	return Route{}
}

// routeGit accepts exactly the smart-HTTP requests git sends; github.com's
// web pages and everything else are no business of an agent's token.
func routeGit(method, escapedPath, rawQuery string) Route {
	segs, refusal := normalizePath(escapedPath)
	r := Route{Kind: KindInfoRefs}
	if refusal != "" {
		r.Refusal = refusal
		return r
	}
	r.Path = "/" + strings.Join(segs, "/")
	repo := ""
	if len(segs) >= 2 {
		repo, _ = repoFromPath(segs[0], segs[1])
	}
	var tail string
	if len(segs) > 2 {
		tail = strings.Join(segs[2:], "/")
	}
	switch {
	case repo == "":
		r.Kind = KindWeb
		r.Refusal = fmt.Sprintf("github.com path %s is not a git repository's smart-HTTP path", quote(r.Path))
	case tail == "info/refs":
		r.Repo = repo
		if method != "GET" {
			r.Refusal = fmt.Sprintf("%s %s: info/refs is only GET", quote(method), quote(r.Path))
			break
		}
		switch rawQuery {
		case "service=git-upload-pack":
			r.Service, r.Ops = KindUploadPack, []string{OpRead}
		case "service=git-receive-pack":
			r.Service, r.Ops, r.Write = KindReceivePack, []string{OpPush}, true
		default:
			r.Refusal = fmt.Sprintf("info/refs query %s: want service=git-upload-pack or service=git-receive-pack (the dumb protocol is not served)", quote(rawQuery))
		}
	case tail == KindUploadPack || tail == KindReceivePack:
		r.Repo, r.Kind, r.Service = repo, tail, tail
		switch {
		case method != "POST":
			r.Refusal = fmt.Sprintf("%s %s: %s is only POST", quote(method), quote(r.Path), tail)
		case rawQuery != "":
			r.Refusal = fmt.Sprintf("%s takes no query, got %s", tail, quote(rawQuery))
		case tail == KindUploadPack:
			r.Ops = []string{OpRead}
		default:
			r.Ops, r.Write, r.NeedsBody = []string{OpPush}, true, true
		}
	default:
		r.Repo, r.Kind = repo, KindWeb
		r.Refusal = fmt.Sprintf("github.com path %s is not git smart HTTP (info/refs, git-upload-pack, git-receive-pack)", quote(r.Path))
	}
	return r
}

func routeAPI(method, escapedPath, rawQuery string) Route {
	segs, refusal := normalizePath(escapedPath)
	r := Route{Kind: KindREST}
	if refusal != "" {
		r.Refusal = refusal
		return r
	}
	r.Path = "/" + strings.Join(segs, "/")
	if queryOverridesMethod(rawQuery) {
		r.Refusal = "the query sets _method, which some servers take as the request's method"
		return r
	}
	if len(segs) == 1 && strings.ToLower(segs[0]) == "graphql" {
		r.Kind = KindGraphQL
		if method != "POST" {
			r.Refusal = fmt.Sprintf("%s /graphql: GraphQL is checked only as a POST body", quote(method))
			return r
		}
		r.NeedsBody = true
		return r
	}
	c := classifyREST(method, segs)
	r.Repo, r.Ops, r.Refusal = c.repo, c.ops, c.refusal
	r.Write = !isRead(method)
	return r
}

// queryOverridesMethod: Rack-style servers take _method as the method; a
// GET carrying it could be a DELETE to them. Some split pairs on ';' too.
func queryOverridesMethod(rawQuery string) bool {
	for _, kv := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		k, _, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if strings.EqualFold(strings.TrimSpace(k), "_method") {
			return true
		}
	}
	return false
}

// Check decides everything the request line shows: the repository against
// the lists, the operations against the level, and the path. Hosts that
// are not GitHub's are allowed with Kind "": the caller applies its other
// rules to them. An Allow with NeedsBody is provisional: see Decision.
func (p *Policy) Check(host, method, escapedPath, rawQuery string) Decision {
	r := p.Route(host, method, escapedPath, rawQuery)
	if r.Kind == "" {
		return Decision{Allow: true}
	}
	d := Decision{Kind: r.Kind, Repo: r.Repo}
	what := text(method) + " " + text(r.Path)
	if r.Path == "" {
		what = text(method) + " " + quote(escapedPath)
	}
	if r.Refusal != "" {
		d.Reason = fmt.Sprintf("%s refused: %s", what, r.Refusal)
		return d
	}
	if r.Kind == KindGraphQL {
		// The operations are in the body.
		d.Allow, d.NeedsBody, d.Op = true, true, OpRead
		return d
	}
	if r.Repo != "" {
		if r.Write && !p.canPush(r.Repo) {
			d.Op = joinOps(r.Ops)
			d.Reason = fmt.Sprintf("%s refused: %s", what, p.pushRefusal(r.Repo))
			return d
		}
		if !p.canRead(r.Repo) {
			d.Op = joinOps(r.Ops)
			d.Reason = fmt.Sprintf("%s refused: %s", what, p.readRefusal(r.Repo))
			return d
		}
	}
	if op, why := p.opsRefusal(r.Ops); op != "" {
		d.Op = op
		d.Reason = fmt.Sprintf("%s (%s) refused: %s", what, op, why)
		return d
	}
	if len(r.Ops) == 0 {
		d.Reason = fmt.Sprintf("%s refused: the policy cannot tell what it does", what)
		return d
	}
	d.Allow, d.Op, d.NeedsBody = true, joinOps(r.Ops), r.NeedsBody
	return d
}
