// Package systemdns boots real systemd (the host's /lib/systemd/systemd,
// 252 on Debian 12) as PID 1 of private pid, mount, uts, ipc, net and cgroup
// namespaces, so that clem's system tests run the project's real units under
// real systemd on machines (and CI runners) whose own PID 1 is not systemd.
// Only tests import it (system tests and the watchdog's D-Bus reader
// test); everything needs root.
//
// Boot builds the machine, waits until `systemctl is-system-running` says
// running or degraded, and registers a t.Cleanup that powers it off and
// removes everything it made. Exec, ExecAs, Systemctl, Show and Journal run
// commands inside all of its namespaces.
//
// Isolation, in short (docs/testing-systemd.md has the details): only
// whitelisted units exist (SYSTEMD_UNIT_PATH is a private directory of stub
// targets, journald, optionally D-Bus, the shutdown units and the caller's
// units); /run, /tmp, /var/tmp and /dev are private; /proc/sys is read-only
// except net.*; /etc/passwd and friends are copies. The root filesystem,
// the rest of /etc, /home and /var are the host's: what units write there
// (StateDirectory=, say) reaches the host.
//
// Resource limits: on a hybrid host, whose pids, memory and cpu controllers
// are cgroup v1 hierarchies, the machine's systemd runs in hybrid mode with
// those hierarchies (rooted at a per-machine child of the test's cgroup),
// so TasksMax=, MemoryMax= and CPUQuota= are enforced; Controllers says
// what it got.
package systemdns
