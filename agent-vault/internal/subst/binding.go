package subst

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/clemhq/clem/shared/hostpattern"
	"github.com/clemhq/clem/shared/secret"
)

// Surface is a part of a request in which a placeholder may be swapped for
// its secret. Each needs its own escaping, and each leaks differently (a
// query string lands in access logs, a body may be stored and shown), so a
// binding names the surfaces it allows.
type Surface string

// The surfaces, in the order Result lists them.
const (
	Header    Surface = "header"
	Query     Surface = "query"
	Path      Surface = "path"
	Body      Surface = "body"
	WebSocket Surface = "websocket"
)

var surfaceOrder = []Surface{Header, Query, Path, Body, WebSocket}

// AuthMode says how a binding presents its secret when the agent's
// placeholder arrives in a header.
type AuthMode string

const (
	// AuthNone substitutes the secret where the placeholder stands.
	AuthNone AuthMode = ""
	// AuthBearer sets "Authorization: Bearer <secret>".
	AuthBearer AuthMode = "bearer"
	// AuthBasic sets "Authorization: Basic base64(user:secret)".
	AuthBasic AuthMode = "basic"
	// AuthNamedHeader sets "<AuthHeader>: <secret>".
	AuthNamedHeader AuthMode = "header"
)

// DefaultBasicUser is the user name AuthBasic sends when BasicUser is empty;
// GitHub and most git hosts accept any user beside a token.
const DefaultBasicUser = "x-access-token"

// Binding says where one secret may go.
type Binding struct {
	Name   string
	Secret secret.Value
	// Dynamic, instead of Secret, is a secret whose value changes while the
	// engine serves it (a GitHub App installation token): the engine asks
	// it for the value at each substitution.
	Dynamic Dynamic
	Hosts   hostpattern.List
	// Methods the secret may be sent with; empty means any.
	Methods []string
	// PathPrefixes the request path must fall under, compared segment by
	// segment after NormalizePath ("/v1" and "/v1/" both cover /v1 and /v1/x,
	// never /v10); empty means any path.
	PathPrefixes []string
	// Surfaces the placeholder may appear in; empty means {Header}.
	Surfaces map[Surface]bool
	Auth     AuthMode
	// AuthHeader is the header AuthNamedHeader sets.
	AuthHeader string
	// BasicUser is the user AuthBasic sends; empty means DefaultBasicUser.
	BasicUser string
}

// binding is a validated Binding in the form the engine compares against.
type binding struct {
	name       string
	secret     secret.Value
	hosts      hostpattern.List
	methods    []string // upper case
	prefixes   []string // normalised, without a trailing slash except "/"
	surfaces   map[Surface]bool
	auth       AuthMode
	authHeader string // canonical
	basicUser  string
	// dyn, when set, holds the value instead of secret.
	dyn Dynamic
	// inHeader: the secret may stand in a header value as it is, so it
	// must be free of control characters.
	inHeader bool
}

// framingHeaders are headers a secret must never be written into: they
// steer how the request is routed or delimited, not who is calling.
var framingHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Content-Type": true, "Content-Encoding": true,
}

func compileBinding(b *Binding) (*binding, error) {
	if b == nil {
		return nil, fmt.Errorf("nil binding")
	}
	if b.Name == "" {
		return nil, fmt.Errorf("a binding has no name")
	}
	where := fmt.Sprintf("binding %q", b.Name)
	switch {
	case b.Dynamic != nil && !b.Secret.IsZero():
		return nil, fmt.Errorf("%s: both a secret and a dynamic one; a binding has one", where)
	case b.Dynamic == nil && b.Secret.IsZero():
		return nil, fmt.Errorf("%s: the secret is empty; set it with clem vault set", where)
	}
	if len(b.Hosts) == 0 {
		return nil, fmt.Errorf("%s: no hosts; a secret must name where it may go", where)
	}
	c := &binding{name: b.Name, secret: b.Secret, dyn: b.Dynamic, hosts: b.Hosts, auth: b.Auth, surfaces: map[Surface]bool{}}
	for _, m := range b.Methods {
		if m == "" || !isToken(m) {
			return nil, fmt.Errorf("%s: method %q is not an HTTP method", where, m)
		}
		c.methods = append(c.methods, strings.ToUpper(m))
	}
	for _, p := range b.PathPrefixes {
		n, err := NormalizePath(p)
		if err != nil || p == "" {
			return nil, fmt.Errorf("%s: path prefix %q: write an absolute path such as /v1/", where, p)
		}
		if n != "/" {
			n = strings.TrimSuffix(n, "/")
		}
		c.prefixes = append(c.prefixes, n)
	}
	for s, on := range b.Surfaces {
		if !knownSurface(s) {
			return nil, fmt.Errorf("%s: unknown surface %q; use header, query, path, body or websocket", where, s)
		}
		if on {
			c.surfaces[s] = true
		}
	}
	if len(c.surfaces) == 0 {
		c.surfaces[Header] = true
	}
	if c.surfaces[WebSocket] && c.dyn != nil {
		// A socket outlives a token, and its relay scrubs with the values
		// of the engines it used, not of the tokens it carried.
		return nil, fmt.Errorf("%s: a dynamic secret cannot be bound to websocket frames", where)
	}
	if c.surfaces[WebSocket] {
		// A frame arrives long after the upgrade request, with no method or
		// path beside it, so a restriction on either could not be enforced.
		if len(c.prefixes) > 0 {
			return nil, fmt.Errorf("%s: websocket frames carry no path, so path prefixes cannot hold for them; drop one of the two", where)
		}
		if len(c.methods) > 0 && !c.allowsMethod(http.MethodGet) {
			return nil, fmt.Errorf("%s: a websocket opens with GET, which the methods leave out", where)
		}
	}
	switch b.Auth {
	case AuthNone:
	case AuthBearer, AuthBasic, AuthNamedHeader:
		if !c.surfaces[Header] {
			return nil, fmt.Errorf("%s: auth %q needs the header surface", where, b.Auth)
		}
	default:
		return nil, fmt.Errorf("%s: unknown auth %q; use bearer, basic or header", where, b.Auth)
	}
	if b.Auth == AuthNamedHeader {
		if b.AuthHeader == "" || !isToken(b.AuthHeader) {
			return nil, fmt.Errorf("%s: auth header needs a header name, such as X-Api-Key", where)
		}
		c.authHeader = http.CanonicalHeaderKey(b.AuthHeader)
		if framingHeaders[c.authHeader] {
			return nil, fmt.Errorf("%s: %s steers how the request is delivered and cannot carry a secret", where, c.authHeader)
		}
	} else if b.AuthHeader != "" {
		return nil, fmt.Errorf("%s: auth_header is only for auth = header", where)
	}
	if b.Auth == AuthBasic {
		c.basicUser = b.BasicUser
		if c.basicUser == "" {
			c.basicUser = DefaultBasicUser
		}
		if strings.ContainsRune(c.basicUser, ':') || !headerSafe([]byte(c.basicUser)) {
			return nil, fmt.Errorf("%s: basic user %q may not contain ':' or control characters", where, c.basicUser)
		}
	} else if b.BasicUser != "" {
		return nil, fmt.Errorf("%s: basic_user is only for auth = basic", where)
	}
	c.inHeader = c.auth == AuthBearer || c.auth == AuthNamedHeader || (c.surfaces[Header] && c.auth == AuthNone)
	if c.inHeader && c.dyn == nil {
		if !headerSafe(b.Secret.Reveal()) {
			return nil, fmt.Errorf("%s: the secret has control characters and cannot go in a header; use auth = basic or another surface", where)
		}
	}
	return c, nil
}

func knownSurface(s Surface) bool {
	for _, k := range surfaceOrder {
		if s == k {
			return true
		}
	}
	return false
}

func (b *binding) coversHost(host string) bool {
	_, ok := b.hosts.Match(host)
	return ok
}

// allowsMethod compares case-insensitively; Go's client sends "" as GET.
func (b *binding) allowsMethod(m string) bool {
	if len(b.methods) == 0 {
		return true
	}
	if m == "" {
		m = http.MethodGet
	}
	for _, a := range b.methods {
		if strings.EqualFold(a, m) {
			return true
		}
	}
	return false
}

// allowsPath takes a path already through NormalizePath.
func (b *binding) allowsPath(p string) bool {
	if len(b.prefixes) == 0 {
		return true
	}
	for _, pre := range b.prefixes {
		if underPrefix(p, pre) {
			return true
		}
	}
	return false
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
