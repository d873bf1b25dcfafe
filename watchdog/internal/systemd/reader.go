package systemd

import (
	"context"
	"errors"
	"fmt"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// ErrBus marks errors of the bus itself (no connection), as opposed to
// errors about one unit.
var ErrBus = errors.New("system bus unreachable")

// ErrClosed is the error of a read after Close: a closed reader stays
// closed, so a health probe through it fails instead of quietly dialling
// a connection nobody will close.
var ErrClosed = errors.New("systemd reader closed")

// Reader reads unit state from the system bus. It connects on first use
// and again after the connection broke (the bus restarted), so a watchdog
// outlives a dbus restart. It calls only Properties.GetAll.
type Reader struct {
	// sem guards conn and closed. It is a channel rather than a mutex so
	// that a read waiting behind a connect that hangs (a bus that accepts
	// and never answers) gives up when its context ends: the watchdog's
	// health probe reads through the same reader, and must time out, not
	// hang with it.
	sem    chan struct{}
	conn   *sddbus.Conn
	closed bool
	dial   func(context.Context) (*sddbus.Conn, error)
	// base outlives every read: godbus closes a connection when the
	// context it was dialled with ends, so dialling with a read's context
	// would drop the connection after each round (and a probe's ending
	// would cut a round's read short). dropConn ends the current one.
	base     context.Context
	endBase  context.CancelFunc
	dropConn context.CancelFunc
}

// NewReader returns a reader of the system bus
// ($DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket).
func NewReader() *Reader { return NewReaderDial(sddbus.NewSystemConnectionContext) }

// NewReaderDial returns a reader that connects with dial: another bus, or
// a test's dial that hangs.
func NewReaderDial(dial func(context.Context) (*sddbus.Conn, error)) *Reader {
	base, end := context.WithCancel(context.Background())
	return &Reader{sem: make(chan struct{}, 1), dial: dial, base: base, endBase: end}
}

// lock takes the reader's lock, or gives up when ctx ends.
func (r *Reader) lock(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for another read's connect to the bus: %w", ErrBus, ctx.Err())
	}
}

func (r *Reader) unlock() { <-r.sem }

// Close drops the connection; reads after it fail with ErrClosed. It
// waits for a connect in progress (a dial that honours its context ends
// with the read that started it).
func (r *Reader) Close() {
	r.sem <- struct{}{}
	defer r.unlock()
	r.closed = true
	r.drop()
	r.endBase()
}

// drop closes the current connection; the caller holds the lock.
func (r *Reader) drop() {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	if r.dropConn != nil {
		r.dropConn()
		r.dropConn = nil
	}
}

func (r *Reader) connect(ctx context.Context) (*sddbus.Conn, error) {
	if err := r.lock(ctx); err != nil {
		return nil, err
	}
	defer r.unlock()
	if r.closed {
		return nil, fmt.Errorf("%w: %w", ErrBus, ErrClosed)
	}
	if r.conn != nil && r.conn.Connected() {
		return r.conn, nil
	}
	r.drop()
	// The dial ends with ctx (a bus that never answers the handshake);
	// once it has connected, the connection lives on r.base.
	dctx, cancel := context.WithCancel(r.base)
	detach := context.AfterFunc(ctx, cancel)
	c, err := r.dial(dctx)
	if !detach() {
		// ctx ended during the dial: godbus closes what it made.
		if c != nil {
			c.Close()
		}
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %w", ErrBus, err)
	}
	r.conn, r.dropConn = c, cancel
	return c, nil
}

// Unit reads the state of the service unit name.
func (r *Reader) Unit(ctx context.Context, name string) (State, error) {
	c, err := r.connect(ctx)
	if err != nil {
		return State{}, err
	}
	up, err := c.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		if !c.Connected() {
			return State{}, fmt.Errorf("%w: %w", ErrBus, err)
		}
		return State{}, fmt.Errorf("unit %s: read properties over D-Bus: %w", name, err)
	}
	s := State{Name: name}
	p := props{m: up}
	s.LoadState = p.str("LoadState")
	s.ActiveState = p.str("ActiveState")
	s.SubState = p.str("SubState")
	s.ActiveEnter = p.u64("ActiveEnterTimestamp")
	if s.LoadState != "loaded" {
		return s, p.err(name)
	}
	sp, err := c.GetUnitTypePropertiesContext(ctx, name, "Service")
	if err != nil {
		return State{}, fmt.Errorf("unit %s: read service properties over D-Bus: %w", name, err)
	}
	q := props{m: sp}
	s.Result = q.str("Result")
	s.NRestarts = q.u32("NRestarts")
	s.Restart = q.str("Restart")
	s.MainPID = q.u32("MainPID")
	s.ExecMainCode = q.i32("ExecMainCode")
	s.ExecMainStatus = q.i32("ExecMainStatus")
	s.ExecMainStart = q.u64("ExecMainStartTimestampMonotonic")
	s.StartPre = q.execs("ExecStartPre")
	if err := p.err(name); err != nil {
		return s, err
	}
	return s, q.err(name)
}

// props reads typed values out of a GetAll answer, remembering the first
// property that is missing or of another type than systemd documents.
type props struct {
	m       map[string]any
	problem string
}

func (p *props) note(name string, v any) {
	if p.problem == "" {
		p.problem = fmt.Sprintf("property %s is %T, not what systemd documents", name, v)
	}
}

func (p *props) err(unit string) error {
	if p.problem == "" {
		return nil
	}
	return fmt.Errorf("unit %s: %s", unit, p.problem)
}

// get returns property name as a T, noting a missing or mistyped one.
func get[T any](p *props, name string) T {
	v, ok := p.m[name].(T)
	if !ok {
		p.note(name, p.m[name])
	}
	return v
}

func (p *props) str(name string) string { return get[string](p, name) }
func (p *props) u64(name string) uint64 { return get[uint64](p, name) }
func (p *props) u32(name string) uint32 { return get[uint32](p, name) }
func (p *props) i32(name string) int32  { return get[int32](p, name) }

// execs decodes an Exec*= property, D-Bus signature a(sasbttttuii): path,
// argv, ignore failure, start (realtime, monotonic), exit (realtime,
// monotonic), pid, code, status.
func (p *props) execs(name string) []Exec {
	raw, ok := p.m[name].([][]any)
	if !ok {
		if _, empty := p.m[name].([]any); !empty {
			p.note(name, p.m[name])
		}
		return nil
	}
	out := make([]Exec, 0, len(raw))
	for _, f := range raw {
		if len(f) != 10 {
			p.note(name, f)
			return nil
		}
		path, ok1 := f[0].(string)
		argv, _ := f[1].([]string) // only for messages: a missing argv is not an error
		start, ok2 := f[4].(uint64)
		exit, ok3 := f[6].(uint64)
		pid, ok4 := f[7].(uint32)
		code, ok5 := f[8].(int32)
		status, ok6 := f[9].(int32)
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
			p.note(name, f)
			return nil
		}
		out = append(out, Exec{Path: path, Argv: argv, Start: start, Exit: exit, PID: pid, Code: code, Status: status})
	}
	return out
}
