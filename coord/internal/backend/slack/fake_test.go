package slack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/clemhq/clem/coord/internal/backend/remote/remotetest"
)

// fakeSlack is a local stand-in for the Slack Web API and Socket Mode, as
// much as the backend uses, keeping state like the real one. Answers are
// the fixtures in testdata/ (shapes from Slack's documentation) with the
// fields filled in. "xoxb-bot" is coord's bot; "xapp-app" its app token.
type fakeSlack struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	msgs     []*fakeMsg // one channel's messages in ts order; replies too
	alerts   []*fakeMsg
	lastTS   time.Time
	limited  int // answer the next calls with 429
	sockets  []*websocket.Conn
	acks     []string // envelope ids acknowledged
	requests map[string]int
}

type fakeMsg struct {
	TS, ThreadTS, User, BotID, Text string
	Metadata                        map[string]any
	Reactions                       map[string][]string
	Edited                          bool
}

const (
	tasksChannel  = "C0123ABCDEF"
	alertsChannel = "C0123ABCDEG"
	botUserID     = "U0CLEMBOT1"
	aliceID       = "U0ALICE01"
)

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{t: t, requests: map[string]int{}}
	mux := http.NewServeMux()
	for name, h := range map[string]http.HandlerFunc{
		"auth.test": f.authTest, "users.info": f.usersInfo, "conversations.history": f.history,
		"conversations.replies": f.replies, "chat.postMessage": f.post, "chat.update": f.update,
		"reactions.add": f.react(true), "reactions.remove": f.react(false), "apps.connections.open": f.open,
	} {
		mux.HandleFunc("POST /api/"+name, f.guard(name, h))
	}
	mux.HandleFunc("GET /link/", f.socket)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		for _, c := range f.sockets {
			c.Close()
		}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

func fixture(t testing.TB, name string) map[string]any { return remotetest.Fixture(t, name) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) {
	writeJSON(w, map[string]any{"ok": false, "error": code})
}

// guard checks the token (the app token for apps.connections.open, the
// bot token for the rest), parses the form, and injects 429s.
func (f *fakeSlack) guard(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok == "" {
			tok = r.Form.Get("token")
		}
		want := "xoxb-bot"
		if name == "apps.connections.open" {
			want = "xapp-app"
		}
		f.mu.Lock()
		f.requests[name]++
		limited := f.limited > 0
		if limited {
			f.limited--
		}
		f.mu.Unlock()
		switch {
		case tok != want:
			fail(w, "invalid_auth")
		case limited:
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			writeJSON(w, map[string]any{"ok": false, "error": "ratelimited"})
		default:
			h(w, r)
		}
	}
}

// nextTS is a fresh, increasing message timestamp.
func (f *fakeSlack) nextTS() string {
	now := time.Now()
	if !now.After(f.lastTS) {
		now = f.lastTS.Add(time.Microsecond)
	}
	f.lastTS = now
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// add stores a message as user (the bot through the API, or a person in
// the Slack client in tests).
func (f *fakeSlack) add(user, text, thread string, md map[string]any) *fakeMsg {
	m := &fakeMsg{TS: f.nextTS(), ThreadTS: thread, User: user, Text: text, Metadata: md, Reactions: map[string][]string{}}
	if user == botUserID {
		m.BotID = "B0CLEMBOT1"
	}
	f.msgs = append(f.msgs, m)
	return m
}

func (f *fakeSlack) find(ts string) *fakeMsg {
	for _, m := range f.msgs {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

func (f *fakeSlack) replyCount(ts string) (int, string) {
	n, latest := 0, ""
	for _, m := range f.msgs {
		if m.ThreadTS == ts && m.TS != ts {
			n, latest = n+1, m.TS
		}
	}
	return n, latest
}

func (f *fakeSlack) msgJSON(m *fakeMsg, withMeta bool) map[string]any {
	fx := fixture(f.t, "conversations_history.json")["messages"].([]any)[0].(map[string]any)
	fx["ts"], fx["user"], fx["text"] = m.TS, m.User, m.Text
	fx["team"] = "T12345678"
	if m.BotID != "" {
		fx["bot_id"] = m.BotID
		fx["app_id"] = "A12345678"
	}
	if m.ThreadTS != "" {
		fx["thread_ts"] = m.ThreadTS
	}
	if n, latest := f.replyCount(m.TS); n > 0 {
		fx["thread_ts"], fx["reply_count"], fx["latest_reply"] = m.TS, n, latest
	}
	if m.Edited {
		fx["edited"] = map[string]any{"user": m.User, "ts": m.TS}
	}
	if withMeta && m.Metadata != nil {
		fx["metadata"] = m.Metadata
	}
	var rs []any
	for name, users := range m.Reactions {
		rs = append(rs, map[string]any{"name": name, "users": users, "count": len(users)})
	}
	if rs != nil {
		fx["reactions"] = rs
	}
	return fx
}

func (f *fakeSlack) authTest(w http.ResponseWriter, r *http.Request) {
	m := fixture(f.t, "auth_test.json")
	m["user"], m["user_id"], m["bot_id"] = "clem", botUserID, "B0CLEMBOT1"
	writeJSON(w, m)
}

func (f *fakeSlack) usersInfo(w http.ResponseWriter, r *http.Request) {
	names := map[string]string{aliceID: "alice", botUserID: "clem"}
	id := r.Form.Get("user")
	if names[id] == "" {
		fail(w, "user_not_found")
		return
	}
	m := fixture(f.t, "users_info.json")
	u := m["user"].(map[string]any)
	u["id"], u["name"] = id, names[id]
	writeJSON(w, m)
}

// page cuts list at cursor (an index) and limit.
func page(list []any, cursor string, limit int) ([]any, string) {
	start, _ := strconv.Atoi(cursor)
	if limit <= 0 {
		limit = 100
	}
	start = min(start, len(list))
	end := min(start+limit, len(list))
	next := ""
	if end < len(list) {
		next = strconv.Itoa(end)
	}
	return list[start:end], next
}

func (f *fakeSlack) history(w http.ResponseWriter, r *http.Request) {
	if r.Form.Get("channel") != tasksChannel {
		fail(w, "channel_not_found")
		return
	}
	meta := r.Form.Get("include_all_metadata") == "1"
	f.mu.Lock()
	var all []any
	for i := len(f.msgs) - 1; i >= 0; i-- { // newest first
		if m := f.msgs[i]; m.ThreadTS == "" || m.ThreadTS == m.TS {
			all = append(all, f.msgJSON(m, meta))
		}
	}
	f.mu.Unlock()
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	msgs, next := page(all, r.Form.Get("cursor"), limit)
	out := fixture(f.t, "conversations_history.json")
	out["messages"], out["has_more"] = append([]any{}, msgs...), next != ""
	out["response_metadata"] = map[string]any{"next_cursor": next}
	writeJSON(w, out)
}

func (f *fakeSlack) replies(w http.ResponseWriter, r *http.Request) {
	ts := r.Form.Get("ts")
	f.mu.Lock()
	parent := f.find(ts)
	if r.Form.Get("channel") != tasksChannel || parent == nil {
		f.mu.Unlock()
		fail(w, "thread_not_found")
		return
	}
	meta := r.Form.Get("include_all_metadata") == "1"
	var all []any
	if parent.ThreadTS != "" && parent.ThreadTS != parent.TS {
		all = []any{f.msgJSON(parent, meta)} // a reply: Slack answers with it alone
	} else {
		all = []any{f.msgJSON(parent, meta)}
		for _, m := range f.msgs {
			if m.ThreadTS == ts && m.TS != ts {
				all = append(all, f.msgJSON(m, meta))
			}
		}
	}
	f.mu.Unlock()
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	msgs, next := page(all, r.Form.Get("cursor"), limit)
	writeJSON(w, map[string]any{"ok": true, "messages": append([]any{}, msgs...), "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}})
}

func metadataOf(r *http.Request) map[string]any {
	var md map[string]any
	if s := r.Form.Get("metadata"); s != "" {
		json.Unmarshal([]byte(s), &md)
	}
	return md
}

func (f *fakeSlack) post(w http.ResponseWriter, r *http.Request) {
	ch, text, thread := r.Form.Get("channel"), r.Form.Get("text"), r.Form.Get("thread_ts")
	f.mu.Lock()
	defer f.mu.Unlock()
	var m *fakeMsg
	switch {
	case ch == alertsChannel:
		m = &fakeMsg{TS: f.nextTS(), User: botUserID, BotID: "B0CLEMBOT1", Text: text}
		f.alerts = append(f.alerts, m)
	case ch != tasksChannel:
		fail(w, "channel_not_found")
		return
	case thread != "" && f.find(thread) == nil:
		fail(w, "thread_not_found")
		return
	default:
		m = f.add(botUserID, text, thread, metadataOf(r))
	}
	out := fixture(f.t, "chat_postMessage.json")
	out["channel"], out["ts"] = ch, m.TS
	msg := out["message"].(map[string]any)
	msg["text"], msg["ts"], msg["bot_id"], msg["user"] = m.Text, m.TS, m.BotID, m.User
	delete(msg, "subtype") // a bot token's own posts carry the bot's user
	if thread != "" {
		msg["thread_ts"] = thread
	}
	if m.Metadata != nil {
		msg["metadata"] = m.Metadata
	}
	writeJSON(w, out)
}

func (f *fakeSlack) update(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.find(r.Form.Get("ts"))
	switch {
	case m == nil:
		fail(w, "message_not_found")
		return
	case m.User != botUserID:
		fail(w, "cant_update_message")
		return
	}
	m.Text, m.Edited = r.Form.Get("text"), true
	if md := metadataOf(r); md != nil {
		m.Metadata = md
	}
	writeJSON(w, map[string]any{"ok": true, "channel": tasksChannel, "ts": m.TS, "text": m.Text})
}

func (f *fakeSlack) react(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.Form.Get("name")
		f.mu.Lock()
		defer f.mu.Unlock()
		m := f.find(r.Form.Get("timestamp"))
		if m == nil {
			fail(w, "message_not_found")
			return
		}
		users := m.Reactions[name]
		has := slices.Contains(users, botUserID)
		switch {
		case add && has:
			fail(w, "already_reacted")
			return
		case !add && !has:
			fail(w, "no_reaction")
			return
		case add:
			m.Reactions[name] = append(users, botUserID)
		default:
			m.Reactions[name] = slices.DeleteFunc(users, func(u string) bool { return u == botUserID })
			if len(m.Reactions[name]) == 0 {
				delete(m.Reactions, name)
			}
		}
		writeJSON(w, map[string]any{"ok": true})
	}
}

func (f *fakeSlack) open(w http.ResponseWriter, r *http.Request) {
	m := fixture(f.t, "apps_connections_open.json")
	m["url"] = "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/link/?ticket=12348&app_id=A12345678"
	writeJSON(w, m)
}

// upgrader accepts what slack-go sends: Origin https://api.slack.com.
var upgrader = websocket.Upgrader{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://api.slack.com" }}

// socket is the Socket Mode WebSocket: hello, then whatever push sends;
// it records the acks.
func (f *fakeSlack) socket(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("ticket") != "12348" {
		http.Error(w, "bad ticket", http.StatusUnauthorized)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c.WriteJSON(fixture(f.t, "socket_hello.json"))
	f.mu.Lock()
	f.sockets = append(f.sockets, c)
	f.mu.Unlock()
	for {
		var ack struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := c.ReadJSON(&ack); err != nil {
			return
		}
		f.mu.Lock()
		f.acks = append(f.acks, ack.EnvelopeID)
		f.mu.Unlock()
	}
}

// push sends an envelope to every open Socket Mode connection.
func (f *fakeSlack) push(envelope map[string]any) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.sockets {
		if c.WriteJSON(envelope) == nil {
			n++
		}
	}
	return n
}
