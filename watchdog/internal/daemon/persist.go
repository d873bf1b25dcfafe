package daemon

import (
	"bytes"
	"errors"
	"io/fs"

	"github.com/clemhq/clem/watchdog/internal/alertstate"
	"github.com/clemhq/clem/watchdog/internal/check"
	"github.com/clemhq/clem/watchdog/internal/policy"
)

// The alert state file (config state_file, package alertstate) carries
// the policy's alert states and the outbox across the watchdog's own
// restart. It is read once, when the watcher is made, and written after
// every round or delivery that changed what it would hold.

// shape is what the check rules can raise for s.
func (s *subject) shape() check.Shape {
	return check.Shape{Agent: s.agent != nil, Health: s.daemon != nil && s.daemon.Health != "", Egress: s.eg != nil}
}

// restore loads the state file, if the config names one. What it cannot
// use is logged and ignored: a watchdog that starts fresh alerts again
// for what is still bad, which is better than one that does not start.
// Subjects no longer watched, or watched under another unit, and causes
// their rules can no longer raise are dropped; waiting alerts are all
// kept (they were raised; coord should have them).
func (w *Watcher) restore() {
	path := w.cfg.StateFile
	if path == "" {
		return
	}
	st, err := alertstate.Read(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.d.Log.Info("no saved alert state; starting fresh", "state_file", path)
		return
	case err != nil:
		w.d.Log.Error("saved alert state unusable; starting fresh: alerts still bad may be sent again", "state_file", path, "err", err.Error())
		return
	}
	byID := map[string]*subject{}
	for _, s := range w.subs {
		byID[s.id] = s
	}
	snap := map[string]map[string]policy.Track{}
	dropped := 0
	for id, saved := range st.Subjects {
		s := byID[id]
		if s == nil || s.unit() != saved.Unit {
			dropped += len(saved.Causes)
			continue
		}
		causes := map[string]policy.Track{}
		for c, t := range saved.Causes {
			if !check.Possible(c, s.shape()) {
				dropped++
				continue
			}
			causes[c] = t
		}
		snap[id] = causes
	}
	w.policy.Restore(snap)
	w.out.Restore(st.Outbox)
	w.d.Log.Info("alert state restored", "state_file", path, "alerting", w.Alerting(), "waiting", w.out.Len(), "dropped", dropped)
}

// save writes the state file when what it would hold changed since the
// last write (or the config moved it). A failed write is logged once per
// outage and counted; the watchdog goes on (a restart would then send
// again what it already sent).
func (w *Watcher) save() {
	path := w.cfg.StateFile
	if path == "" {
		return
	}
	units := map[string]string{}
	for _, s := range w.subs {
		units[s.id] = s.unit()
	}
	st := alertstate.State{Subjects: map[string]alertstate.Subject{}, Outbox: w.out.Items()}
	for id, causes := range w.policy.Snapshot() {
		if u, ok := units[id]; ok {
			st.Subjects[id] = alertstate.Subject{Unit: u, Causes: causes}
		}
	}
	data, err := alertstate.Encode(&st)
	if err == nil {
		if path == w.savedPath && bytes.Equal(data, w.saved) {
			return
		}
		err = alertstate.Write(path, data)
	}
	if err != nil {
		w.saveErrors.Add(1)
		if w.saveErr == "" {
			w.d.Log.Error("cannot save the alert state; after a restart alerts still bad would be sent again", "state_file", path, "err", err.Error())
		}
		w.saveErr = err.Error()
		return
	}
	if w.saveErr != "" {
		w.d.Log.Info("alert state saved again", "state_file", path)
	}
	w.saveErr, w.saved, w.savedPath = "", data, path
}
