package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/clemhq/clem/agent-vault/internal/ghpolicy"
	"github.com/clemhq/clem/agent-vault/internal/gitwire"
	"github.com/clemhq/clem/shared/audit"
)

// Bounds of what agent-vault reads of a GitHub request to decide it.
const (
	maxPushCommands = 1 << 20  // ref-update commands before the pack
	maxAdvertBody   = 32 << 20 // a receive-pack ref advertisement rewritten for no-thin
)

// Pack checks hold a push's pack (memory or a temp file) and parse it:
// one per agent and two in all at a time. A push beyond that is refused at
// once ("busy, push again"), never queued, so no agent can hold the
// others' pushes or the broker's memory.
const (
	packChecksPerAgent = 1
	packChecksTotal    = 2
)

// methodOverrides are headers some servers take as the real method: the
// policy decides on the request line, so none may change it.
var methodOverrides = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

type noThinKey struct{}

// githubGate applies the agent's GitHub policy to a request to GitHub's
// hosts, before anything is substituted into it. It returns false when it
// has answered the request itself (refused, in a form the agent's git or
// gh shows); true lets serveHTTP go on, with the body it read put back.
// done, when set, must run after the request (it frees a spooled pack).
func (s *Server) githubGate(w http.ResponseWriter, r *http.Request, host string, uid uint32, pol *ghpolicy.Policy, rec *audit.Record) (ok bool, done func()) {
	d := pol.Check(host, r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
	if d.Kind == "" {
		return true, nil // not GitHub's host
	}
	note(rec, d)
	for _, h := range methodOverrides {
		if d.Allow && r.Header.Get(h) != "" {
			d.Allow, d.Reason = false, h+" would change the method the policy decided on; GitHub's clients never send it"
			note(rec, d)
		}
	}
	if !d.Allow {
		s.refuseGitHub(w, r, rec, d, nil, nil)
		return false, nil
	}
	if !d.NeedsBody {
		if d.Kind == ghpolicy.KindInfoRefs && r.URL.Query().Get("service") == "git-receive-pack" {
			// The client must send a pack agent-vault can read whole.
			*r = *r.WithContext(context.WithValue(r.Context(), noThinKey{}, true))
		}
		return true, nil
	}
	switch d.Kind {
	case ghpolicy.KindGraphQL:
		if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
			d.Allow, d.Reason = false, fmt.Sprintf("a GraphQL body with Content-Encoding %q: agent-vault checks documents as sent, and gh sends them uncompressed", enc)
			note(rec, d)
			s.refuseGitHub(w, r, rec, d, nil, nil)
			return false, nil
		}
		body, err := readAtMost(r.Body, ghpolicy.MaxGraphQLBody)
		if err != nil {
			d.Allow, d.Reason = false, "GraphQL request body: "+err.Error()
			note(rec, d)
			s.refuseGitHub(w, r, rec, d, nil, nil)
			return false, nil
		}
		gd := pol.CheckGraphQL(body)
		gd.Kind, gd.Repo = d.Kind, d.Repo
		note(rec, gd)
		if !gd.Allow {
			s.refuseGitHub(w, r, rec, gd, nil, nil)
			return false, nil
		}
		putBody(r, body)
		return true, nil
	case ghpolicy.KindReceivePack:
		return s.gatePush(w, r, uid, pol, d, rec)
	}
	d.Allow, d.Reason = false, "a "+d.Kind+" request whose body agent-vault cannot check"
	note(rec, d)
	s.refuseGitHub(w, r, rec, d, nil, nil)
	return false, nil
}

// gatePush reads a push's ref updates (and, when the policy needs it, its
// pack) and decides on them; an allowed push goes upstream byte for byte.
func (s *Server) gatePush(w http.ResponseWriter, r *http.Request, uid uint32, pol *ghpolicy.Policy, d ghpolicy.Decision, rec *audit.Record) (bool, func()) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		d.Allow, d.Reason = false, fmt.Sprintf("a push body with Content-Encoding %q: git sends receive-pack requests uncompressed", enc)
		note(rec, d)
		s.refuseGitHub(w, r, rec, d, nil, nil)
		return false, nil
	}
	updates, caps, consumed, err := gitwire.ReadCommands(r.Body, maxPushCommands)
	if err != nil {
		d.Allow, d.Reason = false, "push commands: "+err.Error()
		note(rec, d)
		s.refuseGitHub(w, r, rec, d, nil, nil)
		return false, nil
	}
	if len(updates) == 0 {
		// git's probe before a large push: a flush and nothing else,
		// which updates nothing and goes upstream as it came.
		if extra, err := readAtMost(r.Body, 0); err != nil || len(extra) > 0 {
			d.Allow, d.Reason = false, "a push body with no ref updates but more data after them"
			note(rec, d)
			s.refuseGitHub(w, r, rec, d, nil, nil)
			return false, nil
		}
		putBody(r, consumed)
		return true, nil
	}
	ups := make([]ghpolicy.RefUpdate, len(updates))
	for i, u := range updates {
		ups[i] = ghpolicy.RefUpdate{Old: u.Old, New: u.New, Ref: u.Ref}
	}
	var pack *gitwire.Pack
	var view ghpolicy.PackView
	release := func() {}
	if pol.NeedsPack(ups) {
		rel, err := s.packs.Acquire(uid)
		if err != nil {
			d.Allow, d.Reason = false, "agent-vault is checking other pushes ("+err.Error()+"); push again in a moment"
			note(rec, d)
			s.refuseGitHub(w, r, rec, d, updates, caps)
			return false, nil
		}
		release = rel
		max := pol.MaxPackBytes()
		if max <= 0 {
			max = ghpolicy.DefaultMaxPackBytes
		}
		pack, err = gitwire.ReadPack(r.Body, max)
		if err != nil {
			d.Allow, d.Reason = false, "push pack: "+err.Error()
			if gitwire.ErrTooLarge(err) {
				d.Reason += fmt.Sprintf(" (agent-vault checks at most %d bytes; split the push or raise max_pack_bytes)", max)
			}
			note(rec, d)
			release()
			s.refuseGitHub(w, r, rec, d, updates, caps)
			return false, nil
		}
		view = pack
	}
	pd := pol.CheckPush(d.Repo, ups, view)
	pd.Kind = d.Kind
	note(rec, pd)
	if !pd.Allow {
		if pack != nil {
			pack.Close()
		}
		release()
		s.refuseGitHub(w, r, rec, pd, updates, caps)
		return false, nil
	}
	rest := r.Body
	done := release // the slot is held until the pack went upstream
	if pack != nil {
		rest, done = io.NopCloser(pack.Replay()), func() { pack.Close(); release() }
	}
	r.Body = readCloser{Reader: io.MultiReader(bytes.NewReader(consumed), rest), Closer: r.Body}
	return true, done
}

// note puts a GitHub decision into the request's audit record.
func note(rec *audit.Record, d ghpolicy.Decision) {
	rec.Rule = "github"
	if d.Op != "" {
		rec.Rule += ":" + d.Op
	}
	rec.Repo, rec.Ref = d.Repo, d.Ref
	if !d.Allow {
		rec.Reason = d.Reason
	}
}

// refuseGitHub records the refusal, then answers in the client's own
// terms: git prints "remote error: ..." or "! [remote rejected] ref
// (reason)", gh prints GitHub's JSON message.
func (s *Server) refuseGitHub(w http.ResponseWriter, r *http.Request, rec *audit.Record, d ghpolicy.Decision, updates []gitwire.RefUpdate, caps []string) {
	msg := "agent-vault: " + d.Reason
	rec.Decision, rec.Reason = audit.Deny, d.Reason
	switch d.Kind {
	case ghpolicy.KindInfoRefs:
		svc := "git-upload-pack"
		if r.URL.Query().Get("service") == "git-receive-pack" {
			svc = "git-receive-pack"
		}
		rec.Status = http.StatusOK
		s.finish(rec)
		w.Header().Set("Content-Type", "application/x-"+svc+"-advertisement")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(gitwire.InfoRefsError(svc, msg))
	case ghpolicy.KindReceivePack:
		rec.Status = http.StatusOK
		s.finish(rec)
		w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
		refused := map[string]string{}
		if d.Ref != "" {
			refused[d.Ref] = d.Reason
		} else {
			for _, u := range updates { // the whole push, not one ref
				refused[u.Ref] = d.Reason
			}
		}
		if len(updates) == 0 {
			w.Write(gitwire.RPCError("git-receive-pack", msg))
			return
		}
		w.Write(gitwire.ReportStatus(updates, caps, refused, msg))
	case ghpolicy.KindUploadPack:
		rec.Status = http.StatusOK
		s.finish(rec)
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		w.Write(gitwire.RPCError("git-upload-pack", msg))
	default:
		rec.Status = http.StatusForbidden
		s.finish(rec)
		b, _ := json.Marshal(map[string]string{"message": msg, "documentation_url": "https://github.com/clemhq/clem/blob/main/docs/github.md"})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		w.Write(append(b, '\n'))
	}
}

// noThinAdvert adds "no-thin" to a receive-pack ref advertisement, so the
// pack that follows holds every object it needs (gitwire.AddNoThin).
func noThinAdvert(resp *http.Response) error {
	if v, _ := resp.Request.Context().Value(noThinKey{}).(bool); !v || resp.StatusCode != http.StatusOK {
		return nil
	}
	b, err := readAtMost(resp.Body, maxAdvertBody)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("receive-pack advertisement: %w", err)
	}
	out, err := gitwire.AddNoThin(b)
	if err != nil {
		return fmt.Errorf("receive-pack advertisement: %w", err)
	}
	putResponseBody(resp, out)
	return nil
}

var errTooLong = errors.New("too long")

// readAtMost reads all of rc, refusing more than max bytes.
func readAtMost(rc io.Reader, max int64) ([]byte, error) {
	if rc == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLong, max)
	}
	return b, nil
}

func putBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Del("Transfer-Encoding")
}

func putResponseBody(resp *http.Response, b []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
}
