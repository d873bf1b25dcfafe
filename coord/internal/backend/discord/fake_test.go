package discord

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clemhq/clem/coord/internal/backend/remote/remotetest"
)

// fakeDiscord is a local stand-in for the Discord REST API (v9) and the
// gateway, as much as the backend uses, keeping state like the real one.
// Answers are the fixtures in testdata/ (shapes from Discord's
// documentation) with the fields filled in. "Bot bot-token" is coord's bot.
type fakeDiscord struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	lastID   int64
	threads  map[string]*fakeThread
	alerts   []*fakeMessage
	limited  int
	sockets  []*gwConn
	seq      int
	identify []map[string]any // IDENTIFY payloads received
}

type fakeUser struct{ ID, Name string }

// gwConn is one gateway connection; writes are one at a time.
type gwConn struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (g *gwConn) write(v any) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.c.WriteJSON(v)
}

type fakeThread struct {
	ID, Name, Owner string
	Messages        []*fakeMessage
}

type fakeMessage struct {
	ID, Channel, Content string
	Author               fakeUser
	Edited               bool
}

const (
	guildID  = "411111111111111111"
	forumID  = "422222222222222222"
	alertsID = "433333333333333333"
)

var (
	botUser   = fakeUser{ID: "800000000000000001", Name: "clem"}
	aliceUser = fakeUser{ID: "800000000000000002", Name: "alice"}
)

func newFakeDiscord(t *testing.T) *fakeDiscord {
	f := &fakeDiscord{t: t, threads: map[string]*fakeThread{}}
	mux := http.NewServeMux()
	const v = "/api/v9/"
	mux.HandleFunc("GET "+v+"users/@me", f.guard(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, f.userJSON(botUser)) }))
	mux.HandleFunc("GET "+v+"gateway", f.guard(f.gateway))
	mux.HandleFunc("GET "+v+"guilds/{g}/threads/active", f.guard(f.active))
	mux.HandleFunc("GET "+v+"channels/{c}/threads/archived/public", f.guard(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"threads": []any{}, "members": []any{}, "has_more": false})
	}))
	mux.HandleFunc("GET "+v+"channels/{c}", f.guard(f.channel))
	mux.HandleFunc("PATCH "+v+"channels/{c}", f.guard(f.editChannel))
	mux.HandleFunc("POST "+v+"channels/{c}/threads", f.guard(f.startThread))
	mux.HandleFunc("GET "+v+"channels/{c}/messages", f.guard(f.messages))
	mux.HandleFunc("GET "+v+"channels/{c}/messages/{m}", f.guard(f.message))
	mux.HandleFunc("POST "+v+"channels/{c}/messages", f.guard(f.send))
	mux.HandleFunc("PATCH "+v+"channels/{c}/messages/{m}", f.guard(f.edit))
	mux.HandleFunc("GET /gateway/", f.socket) // discordgo asks for <url>/?v=9&encoding=json
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		for _, g := range f.sockets {
			g.c.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func fixture(t testing.TB, name string) map[string]any { return remotetest.Fixture(t, name) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, what string) {
	writeJSON(w, 404, map[string]any{"message": "Unknown " + what, "code": map[string]int{"Channel": 10003, "Message": 10008}[what]})
}

func (f *fakeDiscord) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		limited := f.limited > 0
		if limited {
			f.limited--
		}
		f.mu.Unlock()
		switch {
		case r.Header.Get("Authorization") != "Bot bot-token":
			writeJSON(w, 401, map[string]any{"message": "401: Unauthorized", "code": 0})
		case limited:
			w.Header().Set("Retry-After", "1")
			w.Header().Set("X-RateLimit-Scope", "user")
			writeJSON(w, 429, fixture(f.t, "rate_limited.json"))
		default:
			h(w, r)
		}
	}
}

// snowflake is a fresh, increasing id with the time in it, as Discord's.
func (f *fakeDiscord) snowflake() string {
	id := (time.Now().UnixMilli() - 1420070400000) << 22
	if id <= f.lastID {
		id = f.lastID + 1
	}
	f.lastID = id
	return strconv.FormatInt(id, 10)
}

func stampOf(id string) string {
	n, _ := strconv.ParseInt(id, 10, 64)
	return time.UnixMilli(n>>22 + 1420070400000).UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

func (f *fakeDiscord) userJSON(u fakeUser) map[string]any {
	m := fixture(f.t, "user.json")
	m["id"], m["username"], m["bot"] = u.ID, u.Name, u == botUser
	return m
}

func (f *fakeDiscord) messageJSON(m *fakeMessage) map[string]any {
	j := fixture(f.t, "message.json")
	j["id"], j["channel_id"], j["content"], j["nonce"] = m.ID, m.Channel, m.Content, m.ID
	j["author"] = f.userJSON(m.Author)
	j["timestamp"] = stampOf(m.ID)
	if m.Edited {
		j["edited_timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	}
	return j
}

func (f *fakeDiscord) threadJSON(th *fakeThread) map[string]any {
	j := fixture(f.t, "thread.json")
	j["id"], j["guild_id"], j["parent_id"], j["owner_id"], j["name"] = th.ID, guildID, forumID, th.Owner, th.Name
	last := th.ID
	if n := len(th.Messages); n > 0 {
		last = th.Messages[n-1].ID
	}
	j["last_message_id"], j["message_count"], j["total_message_sent"] = last, len(th.Messages)-1, len(th.Messages)-1
	return j
}

// post opens a forum post as u (the bot through the API, a person in the
// client in tests).
func (f *fakeDiscord) post(u fakeUser, name, content string) *fakeThread {
	id := f.snowflake()
	th := &fakeThread{ID: id, Name: name, Owner: u.ID}
	th.Messages = []*fakeMessage{{ID: id, Channel: id, Content: content, Author: u}}
	f.threads[id] = th
	return th
}

func (f *fakeDiscord) say(th *fakeThread, u fakeUser, content string) *fakeMessage {
	m := &fakeMessage{ID: f.snowflake(), Channel: th.ID, Content: content, Author: u}
	th.Messages = append(th.Messages, m)
	return m
}

func (f *fakeDiscord) gateway(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{"url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/gateway"})
}

func (f *fakeDiscord) active(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("g") != guildID {
		notFound(w, "Guild")
		return
	}
	f.mu.Lock()
	var ids []string
	for id := range f.threads {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return compareIDs(ids[i], ids[j]) > 0 })
	out := []any{}
	for _, id := range ids {
		out = append(out, f.threadJSON(f.threads[id]))
	}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"threads": out, "members": []any{}})
}

func (f *fakeDiscord) channel(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	th := f.threads[r.PathValue("c")]
	if th == nil {
		notFound(w, "Channel")
		return
	}
	writeJSON(w, 200, f.threadJSON(th))
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, 400, map[string]any{"message": "400: Bad Request", "code": 50109})
		return false
	}
	return true
}

func (f *fakeDiscord) editChannel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	th := f.threads[r.PathValue("c")]
	if th == nil {
		notFound(w, "Channel")
		return
	}
	if req.Name != "" {
		th.Name = req.Name
	}
	writeJSON(w, 200, f.threadJSON(th))
}

func (f *fakeDiscord) startThread(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name    string `json:"name"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
	}
	if !decode(w, r, &req) {
		return
	}
	if r.PathValue("c") != forumID {
		notFound(w, "Channel")
		return
	}
	if req.Name == "" || len(req.Name) > 100 || req.Message.Content == "" || len(req.Message.Content) > 2000 {
		writeJSON(w, 400, map[string]any{"message": "Invalid Form Body", "code": 50035})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	th := f.post(botUser, req.Name, req.Message.Content)
	j := f.threadJSON(th)
	j["message"] = f.messageJSON(th.Messages[0])
	writeJSON(w, 201, j)
}

func (f *fakeDiscord) messages(w http.ResponseWriter, r *http.Request) {
	after := r.URL.Query().Get("after")
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	th := f.threads[r.PathValue("c")]
	if th == nil {
		notFound(w, "Channel")
		return
	}
	var sel []*fakeMessage
	for _, m := range th.Messages {
		if after == "" || compareIDs(m.ID, after) > 0 {
			sel = append(sel, m)
		}
	}
	if after != "" {
		sel = sel[:min(limit, len(sel))] // the oldest after
	} else {
		sel = sel[max(len(sel)-limit, 0):] // the newest
	}
	out := []any{}
	for i := len(sel) - 1; i >= 0; i-- { // newest first, as Discord answers
		out = append(out, f.messageJSON(sel[i]))
	}
	writeJSON(w, 200, out)
}

func (f *fakeDiscord) find(w http.ResponseWriter, r *http.Request) *fakeMessage {
	if th := f.threads[r.PathValue("c")]; th != nil {
		for _, m := range th.Messages {
			if m.ID == r.PathValue("m") {
				return m
			}
		}
	}
	notFound(w, "Message")
	return nil
}

func (f *fakeDiscord) message(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.find(w, r); m != nil {
		writeJSON(w, 200, f.messageJSON(m))
	}
}

func (f *fakeDiscord) send(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Content string `json:"content"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Content == "" || len(req.Content) > 2000 {
		writeJSON(w, 400, map[string]any{"message": "Invalid Form Body", "code": 50035})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var m *fakeMessage
	if c := r.PathValue("c"); c == alertsID {
		m = &fakeMessage{ID: f.snowflake(), Channel: c, Content: req.Content, Author: botUser}
		f.alerts = append(f.alerts, m)
	} else if th := f.threads[c]; th != nil {
		m = f.say(th, botUser, req.Content)
	} else {
		notFound(w, "Channel")
		return
	}
	writeJSON(w, 200, f.messageJSON(m))
}

func (f *fakeDiscord) edit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Content *string `json:"content"`
	}
	if !decode(w, r, &req) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.find(w, r)
	if m == nil {
		return
	}
	if m.Author != botUser {
		writeJSON(w, 403, map[string]any{"message": "Cannot edit a message authored by another user", "code": 50005})
		return
	}
	if req.Content != nil {
		m.Content, m.Edited = *req.Content, true
	}
	writeJSON(w, 200, f.messageJSON(m))
}

var upgrader = websocket.Upgrader{}

// socket is the gateway: HELLO, then READY once IDENTIFY carries the bot
// token; heartbeats are acked.
func (f *fakeDiscord) socket(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("v") != "9" || r.URL.Query().Get("encoding") != "json" {
		http.Error(w, "bad gateway query", 400)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	g := &gwConn{c: c}
	write := g.write
	write(fixture(f.t, "gateway_hello.json"))
	for {
		var p struct {
			Op int             `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		if err := c.ReadJSON(&p); err != nil {
			return
		}
		switch p.Op {
		case 1:
			write(map[string]any{"op": 11, "d": nil, "s": nil, "t": nil})
		case 2:
			var id map[string]any
			json.Unmarshal(p.D, &id)
			if id["token"] != "Bot bot-token" {
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4004, "Authentication failed."), time.Now().Add(time.Second))
				return
			}
			ready := fixture(f.t, "gateway_ready.json")
			d := ready["d"].(map[string]any)
			d["user"] = f.userJSON(botUser)
			d["guilds"] = []any{map[string]any{"id": guildID, "unavailable": true}}
			f.mu.Lock()
			f.identify = append(f.identify, id)
			f.seq = 1
			f.mu.Unlock()
			write(ready)
			f.mu.Lock()
			f.sockets = append(f.sockets, g)
			f.mu.Unlock()
		}
	}
}

// dispatch sends an event (op 0) to every identified gateway connection.
func (f *fakeDiscord) dispatch(name string, d map[string]any) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, g := range f.sockets {
		f.seq++
		if g.write(map[string]any{"op": 0, "s": f.seq, "t": name, "d": d}) == nil {
			n++
		}
	}
	return n
}
