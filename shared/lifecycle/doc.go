// Package lifecycle is the one life every clem daemon lives under systemd:
// READY once its listeners are bound, WATCHDOG only while a real probe of
// it passes, RELOADING/READY around a reload (SIGHUP or POST /reload on its
// admin socket; a refused config leaves the old one serving), STOPPING
// with a bounded drain, and STATUS lines that say what it is doing.
//
// A daemon binds its listeners, then hands Run a Service describing its
// probe, reload, drain and status; Run owns signals, sd_notify, the admin
// socket and the probe loop until the daemon stops. pipelock, agent-vault,
// sidecar, coord and the watchdog import it, so their lifecycles cannot
// drift apart.
package lifecycle
