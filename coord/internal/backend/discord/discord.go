package discord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	dg "github.com/bwmarrin/discordgo"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/remote"
	"github.com/clemhq/clem/coord/internal/config"
	"github.com/clemhq/clem/shared/secret"
)

// Kind is the backend's name in coord.toml.
const Kind = "discord"

// FeedFile is the change feed's database in coord's state directory.
const FeedFile = "discord-feed.db"

// Intents: guilds (threads), guild messages, and message content, a
// privileged intent to switch on in the developer portal.
const Intents = dg.IntentsGuilds | dg.IntentsGuildMessages | dg.IntentMessageContent

// Options builds a backend without a coord.toml (tests).
type Options struct {
	Section  config.DiscordSection // defaults filled in, as config.Check does
	Token    secret.Value          // the bot token
	FeedPath string
	Log      *slog.Logger
}

// Open builds the discord backend from a checked coord.toml.
func Open(cfg *config.Config, now func() time.Time) (backend.Backend, error) {
	tok, err := cfg.ReadSecret(cfg.Discord.Token)
	if err != nil {
		return nil, fmt.Errorf("discord backend: %w", err)
	}
	return New(Options{Section: *cfg.Discord, Token: tok, FeedPath: filepath.Join(cfg.State.Dir, FeedFile), Log: slog.Default()}, now)
}

// New builds the discord backend.
func New(o Options, now func() time.Time) (*remote.Engine, error) {
	sec := o.Section
	sess, err := dg.New("Bot " + string(o.Token.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("discord backend: %w", err)
	}
	rt, err := newRewriter(sec.APIURL, sec.GatewayURL)
	if err != nil {
		return nil, err
	}
	sess.Client = &http.Client{Transport: rt, Timeout: 30 * time.Second}
	sess.ShouldRetryOnRateLimit = false // the core backs off; a sleeping call would hold a claim's caller
	sess.MaxRestRetries = 0
	sess.Identify.Intents = Intents
	sess.LogLevel = dg.LogError
	s := &service{s: sess, guild: sec.ServerID, forum: sec.TasksChannel, alerts: sec.AlertsChannel, starters: map[string]*dg.Message{}}
	return remote.New(s, o.FeedPath, now, o.Log)
}

// rewriter sends discordgo's fixed https://discord.com/api/ requests to
// api_url, and answers GET gateway with gateway_url when that is set: the
// library's endpoints are package variables, and coord may run several.
type rewriter struct {
	api     *url.URL
	gateway string
	next    http.RoundTripper
}

func newRewriter(api, gateway string) (*rewriter, error) {
	u, err := url.Parse(strings.TrimSuffix(api, "/") + "/")
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("discord backend: api_url %q: want an http(s) URL", api)
	}
	return &rewriter{api: u, gateway: gateway, next: http.DefaultTransport}, nil
}

const discordAPI = "https://discord.com/api/"

func (r *rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	rest, ok := strings.CutPrefix(req.URL.String(), discordAPI)
	if !ok {
		return nil, fmt.Errorf("discord backend: refusing a request outside the API: %s", req.URL.Redacted())
	}
	if r.gateway != "" && req.Method == http.MethodGet && strings.HasSuffix(strings.SplitN(rest, "?", 2)[0], "/gateway") {
		body := fmt.Sprintf(`{"url":%q}`, r.gateway)
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: req,
			ContentLength: int64(len(body))}, nil
	}
	u, err := r.api.Parse(rest)
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.URL, req.Host = u, u.Host
	return r.next.RoundTrip(req)
}

type service struct {
	s                    *dg.Session
	guild, forum, alerts string

	mu       sync.Mutex
	me       *dg.User
	starters map[string]*dg.Message // thread id -> its first message
}

func (s *service) Kind() string { return Kind }

func (s *service) Close() error { return nil }

// classify turns a discordgo error into coord's.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("discord: %s: %w", what, err)
	var (
		rl *dg.RateLimitError
		re *dg.RESTError
		ne net.Error
	)
	switch {
	case errors.As(err, &rl):
		return backend.Temporary(err, rl.RetryAfter)
	case errors.As(err, &re) && re.Response != nil:
		switch code := re.Response.StatusCode; {
		case code == http.StatusNotFound:
			return fmt.Errorf("%w: %w", err, backend.ErrNotFound)
		case code >= 500 || code == http.StatusTooManyRequests:
			return backend.Temporary(err, 0)
		}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		return backend.Temporary(err, 0)
	}
	return err
}

func (s *service) self(ctx context.Context) (*dg.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.me != nil {
		return s.me, nil
	}
	u, err := s.s.User("@me", dg.WithContext(ctx))
	if err != nil {
		return nil, classify("who am I (GET /users/@me)", err)
	}
	s.me = u
	return u, nil
}

// read is a message as coord sees it; a record only from the bot.
func (s *service) read(ctx context.Context, m *dg.Message) (remote.Post, error) {
	me, err := s.self(ctx)
	if err != nil {
		return remote.Post{}, err
	}
	p := remote.Post{ID: m.ID, Body: m.Content, Created: m.Timestamp}
	if m.Author != nil {
		p.Author = remote.Who{ID: m.Author.ID, Name: m.Author.Username, Self: m.Author.ID == me.ID}
	}
	if p.Author.Self {
		p.Body, p.Meta = splitRecord(m.Content)
	}
	return p, nil
}

// starter is a forum post's first message (its id is the thread's).
func (s *service) starter(ctx context.Context, id string) (*dg.Message, error) {
	s.mu.Lock()
	m := s.starters[id]
	s.mu.Unlock()
	if m != nil {
		return m, nil
	}
	m, err := s.s.ChannelMessage(id, id, dg.WithContext(ctx))
	if err != nil {
		return nil, classify("read the first message of post "+id, err)
	}
	s.mu.Lock()
	s.starters[id] = m
	s.mu.Unlock()
	return m, nil
}

// thread reads a forum post as a thread; ok is false for channels that
// are not posts in the tasks forum.
func (s *service) thread(ctx context.Context, ch *dg.Channel) (remote.Thread, bool, error) {
	if ch.ParentID != s.forum || !ch.IsThread() {
		return remote.Thread{}, false, nil
	}
	m, err := s.starter(ctx, ch.ID)
	if err != nil {
		return remote.Thread{}, false, err
	}
	p, err := s.read(ctx, m)
	if err != nil {
		return remote.Thread{}, false, err
	}
	created, _ := dg.SnowflakeTimestamp(ch.ID)
	return remote.Thread{ID: ch.ID, Title: stripStatus(ch.Name), Body: p.Body, Author: p.Author, Meta: p.Meta,
		Created: created, Version: fmt.Sprintf("%s/%d", ch.LastMessageID, ch.MessageCount),
		URL: "https://discord.com/channels/" + s.guild + "/" + ch.ID}, true, nil
}

// Threads lists the forum's posts, active and archived, oldest first.
func (s *service) Threads(ctx context.Context) ([]remote.Thread, error) {
	active, err := s.s.GuildThreadsActive(s.guild, dg.WithContext(ctx))
	if err != nil {
		return nil, classify("list active threads", err)
	}
	chans := slices.Clone(active.Threads)
	var before *time.Time
	for {
		arch, err := s.s.ThreadsArchived(s.forum, before, 100, dg.WithContext(ctx))
		if err != nil {
			return nil, classify("list archived posts", err)
		}
		chans = append(chans, arch.Threads...)
		if !arch.HasMore || len(arch.Threads) == 0 {
			break
		}
		last := arch.Threads[len(arch.Threads)-1]
		if last.ThreadMetadata == nil {
			break
		}
		ts := last.ThreadMetadata.ArchiveTimestamp
		before = &ts
	}
	var out []remote.Thread
	seen := map[string]bool{}
	for _, ch := range chans {
		if seen[ch.ID] {
			continue
		}
		seen[ch.ID] = true
		th, ok, err := s.thread(ctx, ch)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, th)
		}
	}
	slices.SortFunc(out, func(a, b remote.Thread) int { return compareIDs(a.ID, b.ID) })
	return out, nil
}

// compareIDs orders snowflakes (decimal, no leading zeros).
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

var snowRE = regexp.MustCompile(`^[0-9]{17,20}$`)

// Thread reads one post of the tasks forum.
func (s *service) Thread(ctx context.Context, id string) (remote.Thread, error) {
	if !snowRE.MatchString(id) {
		return remote.Thread{}, fmt.Errorf("discord: task %q is not a snowflake: %w", id, backend.ErrNotFound)
	}
	ch, err := s.s.Channel(id, dg.WithContext(ctx))
	if err != nil {
		return remote.Thread{}, classify("read post "+id, err)
	}
	th, ok, err := s.thread(ctx, ch)
	if err == nil && !ok {
		err = fmt.Errorf("discord: %s is not a post in the tasks forum: %w", id, backend.ErrNotFound)
	}
	return th, err
}

// Posts lists a post's messages after its first, oldest first.
func (s *service) Posts(ctx context.Context, th remote.Thread) ([]remote.Post, error) {
	var msgs []*dg.Message
	after := th.ID
	for {
		page, err := s.s.ChannelMessages(th.ID, 100, "", after, "", dg.WithContext(ctx))
		if err != nil {
			return nil, classify("read messages of post "+th.ID, err)
		}
		if len(page) == 0 {
			break
		}
		slices.SortFunc(page, func(a, b *dg.Message) int { return compareIDs(a.ID, b.ID) })
		msgs = append(msgs, page...)
		after = page[len(page)-1].ID
		if len(page) < 100 {
			break
		}
	}
	var out []remote.Post
	for _, m := range msgs {
		if m.ID == th.ID || m.Type != dg.MessageTypeDefault && m.Type != dg.MessageTypeReply {
			continue
		}
		p, err := s.read(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// StartThread opens a forum post.
func (s *service) StartThread(ctx context.Context, title, body string, m remote.Meta) (remote.Thread, error) {
	if body == "" {
		body = title
	}
	ch, err := s.s.ForumThreadStartComplex(s.forum, &dg.ThreadStart{Name: titled(title, backend.Task{}), AutoArchiveDuration: 10080},
		&dg.MessageSend{Content: withRecord(body, m), AllowedMentions: &dg.MessageAllowedMentions{}}, dg.WithContext(ctx))
	if err != nil {
		return remote.Thread{}, classify("open a forum post", err)
	}
	th, ok, err := s.thread(ctx, ch)
	if err == nil && !ok {
		err = fmt.Errorf("discord: the new post %s is not in the tasks forum", ch.ID)
	}
	if th.Body == title && body == title {
		th.Body = ""
	}
	return th, err
}

// AddPost sends a message in the post.
func (s *service) AddPost(ctx context.Context, th remote.Thread, body string, m remote.Meta) (remote.Post, error) {
	msg, err := s.s.ChannelMessageSendComplex(th.ID, &dg.MessageSend{Content: withRecord(body, m), AllowedMentions: &dg.MessageAllowedMentions{}}, dg.WithContext(ctx))
	if err != nil {
		return remote.Post{}, classify("send in post "+th.ID, err)
	}
	return s.read(ctx, msg)
}

// EditPost edits the bot's message.
func (s *service) EditPost(ctx context.Context, th remote.Thread, p remote.Post, body string, m remote.Meta) error {
	_, err := s.s.ChannelMessageEdit(th.ID, p.ID, withRecord(body, m), dg.WithContext(ctx))
	return classify("edit message "+p.ID+" in post "+th.ID, err)
}

// Show puts the state before the post's title.
func (s *service) Show(ctx context.Context, th remote.Thread, t backend.Task) error {
	name := titled(th.Title, t)
	_, err := s.s.ChannelEdit(th.ID, &dg.ChannelEdit{Name: name}, dg.WithContext(ctx))
	return classify("rename post "+th.ID, err)
}

// Alert sends to the alerts channel.
func (s *service) Alert(ctx context.Context, a backend.Alert) (string, error) {
	text := fmt.Sprintf("**%s** %s (from %s %s)\n%s", a.Severity, a.Subject, a.Author.Kind, a.Author.Name, a.Body)
	if len(text) > maxContent {
		text = text[:maxContent-1]
	}
	msg, err := s.s.ChannelMessageSendComplex(s.alerts, &dg.MessageSend{Content: text, AllowedMentions: &dg.MessageAllowedMentions{}}, dg.WithContext(ctx))
	if err != nil {
		return "", classify("send alert", err)
	}
	return msg.ID, nil
}
