// Package coordapi is coord's unix-socket API as both sides see it: the
// task, comment, message and alert types, the routes, and a Client. coord
// serves it; runner (inbox, wake-ups, lease heartbeats), watchdog (alerts)
// and `clem task` (operators) call it. The caller is whoever the kernel says
// it is (SO_PEERCRED on the socket), so no request carries an identity.
// coord, runner, watchdog and clem import it.
package coordapi
