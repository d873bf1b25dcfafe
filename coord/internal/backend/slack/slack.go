package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	sl "github.com/slack-go/slack"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/remote"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/shared/secret"
)

// Kind is the backend's name in coord.toml.
const Kind = "slack"

// FeedFile is the change feed's database in coord's state directory.
const FeedFile = "slack-feed.db"

// metaEvent is the metadata event type of coord's records.
const metaEvent = "clem_record"

// Options builds a backend without a coord.toml (tests).
type Options struct {
	Section  config.SlackSection // defaults filled in, as config.Check does
	Token    secret.Value        // bot token, xoxb-
	AppToken secret.Value        // app-level token for Socket Mode, xapp-
	FeedPath string
	Log      *slog.Logger
}

// Open builds the slack backend from a checked coord.toml.
func Open(cfg *config.Config, now func() time.Time) (backend.Backend, error) {
	tok, err := cfg.ReadSecret(cfg.Slack.Token)
	if err != nil {
		return nil, fmt.Errorf("slack backend: %w", err)
	}
	app, err := cfg.ReadSecret(cfg.Slack.AppToken)
	if err != nil {
		return nil, fmt.Errorf("slack backend: %w", err)
	}
	return New(Options{Section: *cfg.Slack, Token: tok, AppToken: app, FeedPath: filepath.Join(cfg.State.Dir, FeedFile), Log: slog.Default()}, now)
}

// New builds the slack backend.
func New(o Options, now func() time.Time) (*remote.Engine, error) {
	api := sl.New(string(o.Token.Reveal()), sl.OptionAPIURL(o.Section.APIURL), sl.OptionAppLevelToken(string(o.AppToken.Reveal())),
		sl.OptionHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	s := &service{api: api, tasks: o.Section.TasksChannel, alerts: o.Section.AlertsChannel, log: o.Log, names: map[string]string{}}
	return remote.New(s, o.FeedPath, now, o.Log)
}

type service struct {
	api           *sl.Client
	tasks, alerts string
	log           *slog.Logger

	mu    sync.Mutex
	me    *sl.AuthTestResponse
	names map[string]string // user id -> name
}

func (s *service) Kind() string { return Kind }

func (s *service) Close() error { return nil }

// classify turns a slack-go error into coord's: 429 and 5xx and network
// failures are temporary; a missing thread or message is not found.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("slack: %s: %w", what, err)
	var (
		rl *sl.RateLimitedError
		sc sl.StatusCodeError
		se sl.SlackErrorResponse
		ne net.Error
	)
	switch {
	case errors.As(err, &rl):
		return backend.Temporary(err, rl.RetryAfter)
	case errors.As(err, &sc) && sc.Code >= 500:
		return backend.Temporary(err, 0)
	case errors.As(err, &se):
		switch se.Err {
		case "thread_not_found", "message_not_found", "not_found":
			return fmt.Errorf("%w: %w", err, backend.ErrNotFound)
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return backend.Temporary(err, 0)
		}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		return backend.Temporary(err, 0)
	}
	return err
}

// self is the bot: auth.test with the bot token.
func (s *service) self(ctx context.Context) (*sl.AuthTestResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.me != nil {
		return s.me, nil
	}
	me, err := s.api.AuthTestContext(ctx)
	if err != nil {
		return nil, classify("auth.test", err)
	}
	s.me = me
	return me, nil
}

// name is a user's name, from users.info once per user.
func (s *service) name(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	n, ok := s.names[id]
	s.mu.Unlock()
	if ok || id == "" {
		return n, nil
	}
	u, err := s.api.GetUserInfoContext(ctx, id)
	if err != nil {
		return "", classify("users.info "+id, err)
	}
	s.mu.Lock()
	s.names[id] = u.Name
	s.mu.Unlock()
	return u.Name, nil
}

var unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// read is a message as coord sees it: who wrote it, its text (Slack
// escapes &, < and >), and the record, believed only from the bot.
func (s *service) read(ctx context.Context, m sl.Message) (remote.Who, string, *remote.Meta, error) {
	me, err := s.self(ctx)
	if err != nil {
		return remote.Who{}, "", nil, err
	}
	text := unescape.Replace(m.Text)
	if m.User == me.UserID || (m.BotID != "" && m.BotID == me.BotID) {
		return remote.Who{ID: me.UserID, Name: me.User, Self: true}, text, recordOf(m.Metadata), nil
	}
	n, err := s.name(ctx, m.User)
	if err != nil {
		return remote.Who{}, "", nil, err
	}
	return remote.Who{ID: m.User, Name: n}, text, nil, nil
}

// recordOf reads coord's record from message metadata.
func recordOf(md sl.SlackMetadata) *remote.Meta {
	if md.EventType != metaEvent {
		return nil
	}
	raw, ok := md.EventPayload["record"].(string)
	if !ok {
		return nil
	}
	m, err := remote.DecodeMeta(raw)
	if err != nil {
		return nil
	}
	return &m
}

func metadata(m remote.Meta) sl.MsgOption {
	return sl.MsgOptionMetadata(sl.SlackMetadata{EventType: metaEvent, EventPayload: map[string]any{"record": m.Encode()}})
}

// tsRE is a message timestamp, Slack's message id.
var tsRE = regexp.MustCompile(`^[0-9]{10}\.[0-9]{6}$`)

// ts parses "1712345678.123456" as a time.
func ts(s string) time.Time {
	var sec, usec int64
	fmt.Sscanf(s, "%d.%d", &sec, &usec)
	return time.Unix(sec, usec*1000).UTC()
}

// splitText is a task's title (first line) and body (the rest).
func splitText(text string) (string, string) {
	title, body, _ := strings.Cut(text, "\n")
	return strings.TrimSpace(title), strings.TrimSpace(body)
}

// thread reads a top-level message as a thread; ok is false for what is
// not one (joins, topic changes, broadcast replies).
func (s *service) thread(ctx context.Context, m sl.Message) (remote.Thread, bool, error) {
	if m.SubType != "" && m.SubType != "bot_message" || (m.ThreadTimestamp != "" && m.ThreadTimestamp != m.Timestamp) {
		return remote.Thread{}, false, nil
	}
	w, text, meta, err := s.read(ctx, m)
	if err != nil {
		return remote.Thread{}, false, err
	}
	title, body := splitText(text)
	return remote.Thread{ID: m.Timestamp, Title: title, Body: body, Author: w, Meta: meta, Created: ts(m.Timestamp),
		Version: fmt.Sprintf("%d/%s", m.ReplyCount, m.LatestReply)}, true, nil
}

// Threads lists the tasks channel's top-level messages, oldest first.
func (s *service) Threads(ctx context.Context) ([]remote.Thread, error) {
	p := &sl.GetConversationHistoryParameters{ChannelID: s.tasks, Limit: 200, IncludeAllMetadata: true}
	var out []remote.Thread
	for {
		h, err := s.api.GetConversationHistoryContext(ctx, p)
		if err != nil {
			return nil, classify("conversations.history "+s.tasks, err)
		}
		for _, m := range h.Messages {
			th, ok, err := s.thread(ctx, m)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, th)
			}
		}
		if !h.HasMore || h.ResponseMetaData.NextCursor == "" {
			break
		}
		p.Cursor = h.ResponseMetaData.NextCursor
	}
	// history is newest first
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// replies reads a thread: the parent first, then its replies.
func (s *service) replies(ctx context.Context, id string, limit int) ([]sl.Message, error) {
	if !tsRE.MatchString(id) {
		return nil, fmt.Errorf("slack: task %q is not a message timestamp: %w", id, backend.ErrNotFound)
	}
	p := &sl.GetConversationRepliesParameters{ChannelID: s.tasks, Timestamp: id, Limit: limit, IncludeAllMetadata: true}
	var out []sl.Message
	for {
		msgs, more, next, err := s.api.GetConversationRepliesContext(ctx, p)
		if err != nil {
			return nil, classify("conversations.replies "+id, err)
		}
		out = append(out, msgs...)
		if !more || next == "" || limit == 1 {
			return out, nil
		}
		p.Cursor = next
	}
}

// Thread reads one task message.
func (s *service) Thread(ctx context.Context, id string) (remote.Thread, error) {
	msgs, err := s.replies(ctx, id, 1)
	if err != nil {
		return remote.Thread{}, err
	}
	if len(msgs) == 0 || msgs[0].Timestamp != id {
		return remote.Thread{}, fmt.Errorf("slack: %s is not a top-level message: %w", id, backend.ErrNotFound)
	}
	th, ok, err := s.thread(ctx, msgs[0])
	if err == nil && !ok {
		err = fmt.Errorf("slack: %s is not a task message: %w", id, backend.ErrNotFound)
	}
	return th, err
}

// Posts lists a thread's replies, oldest first.
func (s *service) Posts(ctx context.Context, th remote.Thread) ([]remote.Post, error) {
	msgs, err := s.replies(ctx, th.ID, 200)
	if err != nil {
		return nil, err
	}
	var out []remote.Post
	for _, m := range msgs {
		if m.Timestamp == th.ID {
			continue
		}
		w, text, meta, err := s.read(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, remote.Post{ID: m.Timestamp, Author: w, Body: text, Meta: meta, Created: ts(m.Timestamp)})
	}
	return out, nil
}

func (s *service) postMsg(ctx context.Context, what string, opts ...sl.MsgOption) (sl.Message, error) {
	_, _, m, err := s.api.PostMessageWithResponseContext(ctx, s.tasks, opts...)
	return m, classify(what, err)
}

// StartThread posts a top-level message: the title, a blank line, the body.
func (s *service) StartThread(ctx context.Context, title, body string, m remote.Meta) (remote.Thread, error) {
	text := title
	if body != "" {
		text += "\n\n" + body
	}
	msg, err := s.postMsg(ctx, "chat.postMessage", sl.MsgOptionText(text, true), metadata(m))
	if err != nil {
		return remote.Thread{}, err
	}
	th, ok, err := s.thread(ctx, msg)
	if err == nil && !ok {
		err = fmt.Errorf("slack: posted task came back as a %q message", msg.SubType)
	}
	th.Title, th.Body = title, body
	return th, err
}

// AddPost replies in the thread.
func (s *service) AddPost(ctx context.Context, th remote.Thread, body string, m remote.Meta) (remote.Post, error) {
	msg, err := s.postMsg(ctx, "reply in "+th.ID, sl.MsgOptionText(body, true), sl.MsgOptionTS(th.ID), metadata(m))
	if err != nil {
		return remote.Post{}, err
	}
	w, text, meta, err := s.read(ctx, msg)
	return remote.Post{ID: msg.Timestamp, Author: w, Body: text, Meta: meta, Created: ts(msg.Timestamp)}, err
}

// EditPost updates the bot's reply.
func (s *service) EditPost(ctx context.Context, th remote.Thread, p remote.Post, body string, m remote.Meta) error {
	_, _, _, err := s.api.UpdateMessageContext(ctx, s.tasks, p.ID, sl.MsgOptionText(body, true), metadata(m))
	return classify("chat.update "+p.ID+" in "+th.ID, err)
}

// reactions are the states as the bot's reaction on the task message.
var reactions = map[backend.State]string{
	backend.Claimed:    "eyes",
	backend.InProgress: "hammer_and_wrench",
	backend.Done:       "white_check_mark",
	backend.Blocked:    "no_entry",
}

// Show leaves exactly the state's reaction of the bot's on the task.
func (s *service) Show(ctx context.Context, th remote.Thread, t backend.Task) error {
	me, err := s.self(ctx)
	if err != nil {
		return err
	}
	msgs, err := s.replies(ctx, th.ID, 1)
	if err != nil || len(msgs) == 0 {
		return err
	}
	ref := sl.NewRefToMessage(s.tasks, th.ID)
	want := reactions[t.State]
	have := map[string]bool{}
	for _, r := range msgs[0].Reactions {
		for _, u := range r.Users {
			if u == me.UserID {
				have[r.Name] = true
			}
		}
	}
	for _, name := range reactions {
		if have[name] && name != want {
			if err := s.api.RemoveReactionContext(ctx, name, ref); err != nil {
				return classify("reactions.remove "+name, err)
			}
		}
	}
	if want != "" && !have[want] {
		if err := s.api.AddReactionContext(ctx, want, ref); err != nil && !strings.Contains(err.Error(), "already_reacted") {
			return classify("reactions.add "+want, err)
		}
	}
	return nil
}

var severityEmoji = map[backend.Severity]string{backend.Warning: ":warning:", backend.Critical: ":rotating_light:", backend.Resolved: ":white_check_mark:"}

// Alert posts to the alerts channel.
func (s *service) Alert(ctx context.Context, a backend.Alert) (string, error) {
	text := fmt.Sprintf("%s %s: %s (from %s %s)\n%s", severityEmoji[a.Severity], a.Severity, a.Subject, a.Author.Kind, a.Author.Name, a.Body)
	_, tsv, err := s.api.PostMessageContext(ctx, s.alerts, sl.MsgOptionText(text, true))
	if err != nil {
		return "", classify("alert to "+s.alerts, err)
	}
	return tsv, nil
}
