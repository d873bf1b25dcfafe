package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/clemhq/clem/runner/internal/agentcmd"
	"github.com/clemhq/clem/runner/internal/config"
	"github.com/clemhq/clem/runner/internal/events"
	"github.com/clemhq/clem/runner/internal/prompt"
	"github.com/clemhq/clem/runner/internal/supervise"
	"github.com/clemhq/clem/shared/coordapi"
	"github.com/clemhq/clem/shared/runstate"
)

// coordTimeout bounds one inbox call: coord may be down.
const coordTimeout = 10 * time.Second

// iterate runs one iteration and records it; it reports whether it failed.
func (d *Daemon) iterate(ctx context.Context) bool {
	now := d.clock.Now()
	d.mu.Lock()
	d.st.Iteration++
	n := d.st.Iteration
	d.st.Phase, d.st.NextAt = runstate.Running, time.Time{}
	d.st.Current = &runstate.Current{Iteration: n, Started: now.UTC()}
	d.mu.Unlock()
	d.save()
	d.notifyStatus()
	d.log.Info("iteration start", "agent", d.cfg.Agent, "iteration", n)

	it := &runstate.Iteration{Iteration: n, Started: now.UTC(), ExitCode: -1}
	stopped := d.run(ctx, n, it)
	it.Ended = d.clock.Now().UTC()
	if it.Error != "" {
		it.IsError = true
	}
	it.Error = runstate.Clean(it.Error, runstate.MaxError)
	it.Result = runstate.Clip(it.Result, runstate.MaxResult)
	failed := it.Failed()

	d.mu.Lock()
	d.st.Current = nil
	d.st.Last = it
	if it.Stalled {
		d.st.Stalls++
	}
	if !stopped {
		if failed {
			d.st.ConsecutiveFailures++
		} else {
			d.st.ConsecutiveFailures = 0
		}
	}
	d.st.AddToday(it, time.Local)
	d.mu.Unlock()
	// The state first: a reader that finds the iteration in the history
	// finds it counted in the state too.
	d.save()
	if err := runstate.AppendHistory(d.cfg.StateDir, it, 0); err != nil {
		d.log.Error("cannot append to the history", "err", err)
	}
	d.log.Info("iteration end", "agent", d.cfg.Agent, "iteration", n, "outcome", it.Outcome(), "exit_code", it.ExitCode,
		"turns", it.Turns, "cost_usd", it.CostUSD, "events", it.Events, "session_id", it.SessionID,
		"duration", it.Duration().Round(time.Second).String(), "error", it.Error)
	return failed && !stopped
}

// run fills it from one run of the CLI; it reports whether the runner was
// stopping meanwhile.
func (d *Daemon) run(ctx context.Context, n int, it *runstate.Iteration) bool {
	role, err := os.ReadFile(d.cfg.PromptFile)
	if err != nil {
		it.Error = "role prompt: " + err.Error()
		return false
	}
	env := agentcmd.Env(d.cfg, os.Environ(), d.id)
	text, ack := d.buildPrompt(ctx, string(role))
	spec, err := agentcmd.Build(d.cfg, text, env)
	if err != nil {
		it.Error = err.Error()
		return false
	}
	// The inbox items the prompt carries are consumed once the model has
	// answered it, not before: a run that dies first (the API refusing or
	// stalling, the runner killed, pipelock down) leaves them for the next
	// prompt, so none is lost; one that got an answer consumes them, so
	// none comes twice.
	ack = sync.OnceFunc(ack)
	answered := false

	tr, err := runstate.CreateTranscript(d.cfg.StateDir, n)
	if err != nil {
		it.Error = err.Error()
		return false
	}
	if err := runstate.PruneTranscripts(d.cfg.StateDir, d.cfg.KeepTranscripts); err != nil {
		d.log.Warn("transcripts", "err", err)
	}
	w := bufio.NewWriterSize(tr, 64<<10)
	defer func() {
		w.Flush()
		tr.Close()
	}()

	hctx, stopHeartbeat := context.WithCancel(ctx)
	defer stopHeartbeat()
	go d.heartbeat(hctx)

	parser := events.New(d.cfg.Runtime)
	res := d.sup.Run(ctx, n, spec, supervise.Hooks{
		Started: func(pid int) {
			d.mu.Lock()
			if d.st.Current != nil {
				d.st.Current.PID = pid
			}
			d.mu.Unlock()
		},
		Line: func(line []byte, count int) {
			writeTranscript(w, line)
			parser.Line(line)
			if !answered && parser.Summary().Answered {
				answered = true
				ack()
			}
			d.mu.Lock()
			if d.st.Current != nil {
				d.st.Current.Events = count
				d.st.Current.LastEvent = d.clock.Now().UTC()
			}
			d.mu.Unlock()
		},
		Stderr: func(line []byte) { writeWrapped(w, "clem_stderr", line) },
	})
	verdict(d.cfg.Runtime, res, parser.Summary(), it)
	if !it.IsError {
		ack() // a runtime whose stream cannot say it was answered
	}
	return res.Stopped
}

// verdict fills it from the process result and the stream's summary.
// Failures can still say subtype success: is_error, the API status and the
// exit code decide, and a Claude Code run without a result line failed.
func verdict(runtime string, res supervise.Result, sum events.Summary, it *runstate.Iteration) {
	it.ExitCode, it.Events, it.Stalled, it.TimedOut = res.ExitCode, res.Events, res.Stalled, res.TimedOut
	it.SessionID, it.Turns, it.CostUSD = sum.SessionID, sum.Turns, sum.CostUSD
	it.InputTokens, it.OutputTokens, it.APIErrorStatus = sum.InputTokens, sum.OutputTokens, sum.APIErrorStatus
	it.Result = sum.Result
	it.IsError = sum.IsError || res.ExitCode != 0 || res.Stalled || res.TimedOut
	switch {
	case res.Error != "":
		it.Error = res.Error
	case sum.APIErrorStatus != nil && *sum.APIErrorStatus >= 400:
		it.Error = fmt.Sprintf("model API answered HTTP %d: %s", *sum.APIErrorStatus, sum.Error)
	case sum.IsError:
		it.Error = sum.Error
	case res.ExitCode != 0:
		it.Error = fmt.Sprintf("exit status %d", res.ExitCode)
	case (runtime == config.ClaudeCode || runtime == config.Codex) && !sum.Final:
		it.IsError = true
		it.Error = "the stream ended without a result"
	}
	if it.IsError && it.Error == "" {
		it.Error = "failed"
	}
}

// buildPrompt builds the iteration's prompt from role and coord's inbox;
// ack acknowledges exactly the items the prompt carries, so items left
// out (past prompt.MaxInbox) stay unread and come in the next prompt, in
// order. Call ack once the model has the prompt; an agent reading its
// inbox over MCP meanwhile has moved the cursor on, and coord never moves
// a cursor back, so the late ack consumes nothing twice. coord down means
// an empty inbox this time.
func (d *Daemon) buildPrompt(ctx context.Context, role string) (text string, ack func()) {
	in := d.inbox(ctx)
	text, carried := prompt.Build(role, in.Items, prompt.Nonce)
	cursor := ackCursor(in, carried)
	return text, func() {
		if cursor == "" {
			return
		}
		actx, cancel := context.WithTimeout(ctx, coordTimeout)
		defer cancel()
		if err := d.coord.Ack(actx, cursor); err != nil {
			d.log.Warn("coord: cannot acknowledge the inbox", "err", err)
		}
		if carried < len(in.Items) {
			d.log.Info("inbox items left for the next iteration", "carried", carried, "left", len(in.Items)-carried)
		}
	}
}

// ackCursor is the cursor that consumes the first carried items of in and
// nothing after them; "" acks nothing. The inbox's own cursor is used
// only when every item was carried; an item without a cursor (an older
// coord) is never acked past, so it comes again rather than being lost.
func ackCursor(in coordapi.InboxResponse, carried int) string {
	switch {
	case carried >= len(in.Items):
		return in.Cursor
	case carried <= 0:
		return ""
	}
	return in.Items[carried-1].Cursor
}

// inbox reads coord's inbox; coord down means an empty inbox this time.
func (d *Daemon) inbox(ctx context.Context) coordapi.InboxResponse {
	if d.coord == nil {
		return coordapi.InboxResponse{}
	}
	ctx, cancel := context.WithTimeout(ctx, coordTimeout)
	defer cancel()
	in, err := d.coord.Inbox(ctx)
	if err != nil {
		d.log.Warn("coord: no inbox this iteration", "err", err)
		return coordapi.InboxResponse{}
	}
	return in
}

// heartbeat renews the agent's task leases while an iteration runs.
func (d *Daemon) heartbeat(ctx context.Context) {
	if d.coord == nil {
		return
	}
	t := time.NewTicker(d.cfg.Heartbeat.Duration)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			hctx, cancel := context.WithTimeout(ctx, coordTimeout)
			if _, err := d.coord.Heartbeat(hctx); err != nil {
				d.log.Debug("coord: heartbeat", "err", err)
			}
			cancel()
		}
	}
}

// writeTranscript keeps a JSON line as it came; other output is wrapped so
// that the transcript stays JSONL.
func writeTranscript(w *bufio.Writer, line []byte) {
	if json.Valid(line) && strings.HasPrefix(strings.TrimSpace(string(line)), "{") {
		w.Write(line)
		w.WriteByte('\n')
		return
	}
	writeWrapped(w, "clem_output", line)
}

func writeWrapped(w *bufio.Writer, typ string, line []byte) {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{typ, strings.ToValidUTF8(string(line), "\uFFFD")})
	w.Write(b)
	w.WriteByte('\n')
}
