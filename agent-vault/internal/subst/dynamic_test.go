package subst

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/clemhq/clem/shared/secret"
)

// fakeDynamic is a Dynamic the test rotates by hand, the way a refresher
// would: each new value moves the current one to previous.
type fakeDynamic struct {
	mu  sync.Mutex
	v   DynamicValue
	why string
}

func (f *fakeDynamic) Value() DynamicValue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.v
}

func (f *fakeDynamic) rotate(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v = DynamicValue{Current: secret.New([]byte(tok)), Valid: true, Previous: f.v.Current, Generation: f.v.Generation + 1}
}

func (f *fakeDynamic) expire(why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v.Valid, f.v.Why = false, why
}

const (
	tokA = "ghs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	tokB = "ghs_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	tokC = "ghs_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
)

type dynFixture struct {
	e          *Engine
	dyn        *fakeDynamic
	phLead     string // lead's placeholder for the app binding
	phWorker   string // worker's placeholder for a static binding
	staticTok  string
	basicOnGit string
}

// newDynFixture: binding "app" (dynamic, basic auth on github.com and
// bearer-free header use), held by lead; binding "static" held by worker.
func newDynFixture(t *testing.T) *dynFixture {
	t.Helper()
	f := &dynFixture{dyn: &fakeDynamic{}, phLead: PlaceholderFor("lead", "app"), phWorker: PlaceholderFor("worker", "static"), staticTok: "static-secret-0123456789"}
	app := &Binding{Name: "app", Dynamic: f.dyn, Hosts: hosts(t, "github.com", "api.github.com")}
	static := &Binding{Name: "static", Secret: secretOf(f.staticTok), Hosts: hosts(t, "api.example.com")}
	e, err := NewEngine([]*Binding{app, static}, []Placeholder{{f.phLead, "lead", app}, {f.phWorker, "worker", static}})
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	return f
}

func (f *dynFixture) gitRequest(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", "https://github.com/o/r.git/info/refs?service=git-upload-pack", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("x-access-token:"+f.phLead)))
	return req
}

// TestDynamicSubstitutesCurrent: the placeholder becomes the value in force
// at each request, inside Basic credentials as git sends them and bare.
func TestDynamicSubstitutesCurrent(t *testing.T) {
	f := newDynFixture(t)
	for _, tok := range []string{tokA, tokB} {
		f.dyn.rotate(tok)
		req := f.gitRequest(t)
		res, err := f.e.Rewrite("lead", "github.com", req)
		if err != nil {
			t.Fatalf("Rewrite() after rotating to %s: %v", tok[:6], err)
		}
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+tok))
		if got := req.Header.Get("Authorization"); got != want || res.Binding != "app" {
			t.Errorf("Authorization = %q (binding %q), want the token in force", got, res.Binding)
		}
		req, _ = http.NewRequest("GET", "https://api.github.com/user", nil)
		req.Header.Set("Authorization", "token "+f.phLead)
		if _, err := f.e.Rewrite("lead", "api.github.com", req); err != nil || req.Header.Get("Authorization") != "token "+tok {
			t.Errorf("Rewrite() of a bare header = %q, %v", req.Header.Get("Authorization"), err)
		}
	}
}

// TestDynamicUnavailable: without a usable value the request is refused
// with 503 and the source's reason, and nothing is substituted.
func TestDynamicUnavailable(t *testing.T) {
	f := newDynFixture(t)
	f.dyn.mu.Lock()
	f.dyn.v.Why = "github app token not yet minted: POST .../access_tokens: 401 Bad credentials"
	f.dyn.mu.Unlock()
	tests := []struct {
		name    string
		prepare func()
		want    string
	}{
		{"never minted", func() {}, "github app token not yet minted: POST .../access_tokens: 401 Bad credentials"},
		{"expired", func() { f.dyn.rotate(tokA); f.dyn.expire("github app token expired") }, "github app token expired"},
		{"no reason given", func() { f.dyn.rotate(tokB); f.dyn.expire("") }, "no usable value yet"},
		{"too short", func() { f.dyn.rotate("ghs_short") }, "fewer than 16"},
		{"header injection", func() { f.dyn.rotate("ghs_AAAAAAAAAAAAAAAA\r\nX-Evil: 1") }, "control characters"},
		{"holds a placeholder", func() { f.dyn.rotate("ghs_" + f.phLead) }, "appears inside the secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prepare()
			req := f.gitRequest(t)
			before := req.Header.Get("Authorization")
			_, err := f.e.Rewrite("lead", "github.com", req)
			var ref *Refusal
			if !errors.As(err, &ref) || ref.Status != http.StatusServiceUnavailable || ref.Binding != "app" || !strings.Contains(ref.Reason, tt.want) {
				t.Fatalf("Rewrite() error = %#v, want a 503 refusal saying %q", err, tt.want)
			}
			if req.Header.Get("Authorization") != before {
				t.Errorf("the refused request was changed: %q", req.Header.Get("Authorization"))
			}
			if cur := string(f.dyn.Value().Current.Reveal()); cur != "" && strings.Contains(err.Error(), cur) {
				t.Errorf("the refusal names the value: %v", err)
			}
		})
	}
	// A static binding's refusal keeps the caller's default status.
	req, _ := http.NewRequest("GET", "https://evil.example.com/", nil)
	req.Header.Set("X-Key", f.phWorker)
	var ref *Refusal
	if _, err := f.e.Rewrite("worker", "evil.example.com", req); !errors.As(err, &ref) || ref.Status != 0 {
		t.Errorf("static refusal = %#v, want Status 0", err)
	}
}

// TestDynamicScrubsCurrentAndPrevious: after a rotation, a response that
// echoes either token gives the owner its placeholder and anyone else the
// redaction marker; a bad value that never went upstream is not looked for.
func TestDynamicScrubsCurrentAndPrevious(t *testing.T) {
	f := newDynFixture(t)
	f.dyn.rotate(tokA)
	f.dyn.rotate(tokB)
	echo := "old " + tokA + " new " + tokB + " basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+tokA)) + " static " + f.staticTok
	tests := []struct {
		agent string
		want  string
	}{
		{"lead", "old " + f.phLead + " new " + f.phLead + " basic "},
		{"worker", "old " + Redacted + " new " + Redacted + " basic "},
		{"stranger", "old " + Redacted + " new " + Redacted + " basic "},
	}
	for _, tt := range tests {
		got := string(f.e.Scrubber(tt.agent).Bytes([]byte(echo)))
		if !strings.HasPrefix(got, tt.want) || strings.Contains(got, tokA) || strings.Contains(got, tokB) || strings.Contains(got, f.staticTok) {
			t.Errorf("Scrubber(%s).Bytes() = %q, want it to begin %q and hold no token", tt.agent, got, tt.want)
		}
		if strings.Contains(got, "x-access-token") {
			t.Errorf("Scrubber(%s) missed the Basic echo: %q", tt.agent, got)
		}
	}
	// The oldest token is no longer looked for once two newer ones exist.
	f.dyn.rotate(tokC)
	if got := string(f.e.Scrubber("lead").Bytes([]byte(tokA + " " + tokB + " " + tokC))); got != tokA+" "+f.phLead+" "+f.phLead {
		t.Errorf("after a second rotation: %q, want the previous and current scrubbed", got)
	}
	f.dyn.rotate("ghs_x\r\n" + strings.Repeat("y", 20)) // bad: never substituted, never looked for
	if got := string(f.e.Scrubber("lead").Bytes([]byte(tokC))); got != f.phLead {
		t.Errorf("a bad current value: the previous good one %q is not scrubbed", got)
	}
}

// TestScrubberForGivenValue: a response is scrubbed of the token its
// request carried even when two rotations came in between.
func TestScrubberForGivenValue(t *testing.T) {
	f := newDynFixture(t)
	f.dyn.rotate(tokA)
	res, err := f.e.Rewrite("lead", "github.com", f.gitRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.e.ScrubberFor("lead", res).Bytes([]byte(tokA))); got != f.phLead {
		t.Errorf("no rotation: %q", got)
	}
	f.dyn.rotate(tokB)
	f.dyn.rotate(tokC)
	if got := string(f.e.Scrubber("lead").Bytes([]byte(tokA))); got != tokA {
		t.Fatalf("control: Scrubber after two rotations = %q, want tokA left (it is neither current nor previous)", got)
	}
	for agent, want := range map[string]string{"lead": f.phLead, "worker": Redacted} {
		if got := string(f.e.ScrubberFor(agent, res).Bytes([]byte(tokA + tokC))); got != want+want {
			t.Errorf("ScrubberFor(%s) after two rotations = %q, want %q twice", agent, got, want)
		}
	}
	if f.e.ScrubberFor("worker", Result{Binding: "static"}) != f.e.Scrubber("worker") {
		t.Error("ScrubberFor a static request is not Scrubber")
	}
}

// TestDynamicScrubberCache: scrubbers are rebuilt when a value rotates,
// not per request.
func TestDynamicScrubberCache(t *testing.T) {
	f := newDynFixture(t)
	f.dyn.rotate(tokA)
	a1, a2 := f.e.Scrubber("lead"), f.e.Scrubber("lead")
	if a1 != a2 {
		t.Error("Scrubber rebuilt without a rotation")
	}
	f.dyn.expire("expired") // validity is not a new generation
	if f.e.Scrubber("lead") != a1 {
		t.Error("Scrubber rebuilt on expiry alone")
	}
	f.dyn.rotate(tokB)
	if f.e.Scrubber("lead") == a1 {
		t.Error("Scrubber not rebuilt after a rotation")
	}
}

// TestStaticScrubberUnchanged: an engine without dynamic bindings hands
// out the scrubbers it built at NewEngine.
func TestStaticScrubberUnchanged(t *testing.T) {
	f := newFixture(t)
	if f.e.Scrubber("lead") != f.e.scrubbers["lead"] || f.e.Scrubber("nobody") != f.e.others {
		t.Error("static engine builds scrubbers after NewEngine")
	}
}

func TestNewEngineDynamic(t *testing.T) {
	ph := "__clem_a_b_0123456789abcdef__"
	tests := []struct {
		name   string
		b      *Binding
		errHas string
	}{
		{"dynamic", &Binding{Name: "b", Dynamic: &fakeDynamic{}, Hosts: hosts(t, "github.com"), Auth: AuthBasic}, ""},
		{"both", &Binding{Name: "b", Dynamic: &fakeDynamic{}, Secret: secretOf("s3cret-value"), Hosts: hosts(t, "github.com")}, "both a secret and a dynamic one"},
		{"websocket", &Binding{Name: "b", Dynamic: &fakeDynamic{}, Hosts: hosts(t, "github.com"), Surfaces: on(Header, WebSocket)}, "websocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEngine([]*Binding{tt.b}, []Placeholder{{ph, "a", tt.b}})
			if tt.errHas == "" && err != nil || tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
				t.Errorf("NewEngine() = %v, want %q", err, tt.errHas)
			}
		})
	}
}
