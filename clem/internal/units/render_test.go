package units

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clemhq/clem/shared/testutil/golden"
)

func TestRenderGolden(t *testing.T) {
	out, err := loadRepo(t).Render(fleet("/usr/local/bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"clem-acme-agent-dev.service", "clem-acme-agent-lead.service", "clem-acme-agent-solo.service", "clem-acme-coord.service",
		"clem-acme-egress.service", "clem-acme-mcp-db.service", "clem-acme-mcp-search.service", "clem-acme-pipelock.service", "clem-acme-vault.service",
		"clem-acme-watchdog.service", "clem-acme.target",
	}
	if got := sortedNames(out); !slices.Equal(got, want) {
		t.Fatalf("Render files = %v, want %v", got, want)
	}
	for _, name := range want {
		golden.Check(t, filepath.Join("testdata", name+".golden"), out[name])
	}
}

// unitFile is a parsed unit: section -> directives in order, "Key=Value".
type unitFile map[string][]string

func parseUnit(t *testing.T, b []byte) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		case strings.Contains(line, "=") && section != "":
			u[section] = append(u[section], line)
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	return u
}

// values are the values of key in section, in order.
func (u unitFile) values(section, key string) []string {
	var v []string
	for _, kv := range u[section] {
		if k, val, _ := strings.Cut(kv, "="); k == key {
			v = append(v, val)
		}
	}
	return v
}

func (u unitFile) one(t *testing.T, unit, section, key string) string {
	t.Helper()
	v := u.values(section, key)
	if len(v) != 1 {
		t.Errorf("%s: [%s] %s = %q, want exactly one", unit, section, key, v)
		return ""
	}
	return v[0]
}

// TestRenderContract checks, directive by directive, what the design
// promises of each unit, so a golden refreshed in haste cannot drop it.
func TestRenderContract(t *testing.T) {
	d := fleet("/usr/local/bin")
	out, err := loadRepo(t).Render(d)
	if err != nil {
		t.Fatal(err)
	}
	target := parseUnit(t, out[d.Target])
	wants := []string{d.Egress.Unit}
	for _, dm := range d.Daemons {
		wants = append(wants, dm.Unit)
	}
	for _, a := range d.Agents {
		wants = append(wants, a.Unit)
	}
	if got := target.values("Unit", "Wants"); !slices.Equal(got, wants) {
		t.Errorf("target Wants = %v, want %v", got, wants)
	}
	if got := target.one(t, d.Target, "Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("target WantedBy = %q", got)
	}

	common := map[string]string{
		"Type": "notify", "Restart": "always", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
		"ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
		"ProtectClock": "yes", "ProtectHostname": "yes", "RestrictNamespaces": "yes",
		"RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
		"CapabilityBoundingSet": "", "AmbientCapabilities": "", "SystemCallArchitectures": "native",
	}
	families := map[string]string{
		"pipelock": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"vault":    "AF_UNIX AF_INET AF_INET6",
		"mcp":      "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"coord":    "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"watchdog": "AF_UNIX",
	}
	for _, dm := range d.Daemons {
		u := parseUnit(t, out[dm.Unit])
		for k, v := range common {
			if got := u.one(t, dm.Unit, "Service", k); got != v {
				t.Errorf("%s: %s=%q, want %q", dm.Unit, k, got, v)
			}
		}
		for k, v := range map[string]string{
			"User": dm.User, "Group": dm.User, "ExecStart": dm.Exec + " run -c " + dm.Config,
			"ProtectHome": "yes", "UMask": "0077", "RestrictAddressFamilies": families[dm.Role],
			"ReadWritePaths": strings.Join(dm.ReadWritePaths, " "),
		} {
			if got := u.one(t, dm.Unit, "Service", k); got != v {
				t.Errorf("%s: %s=%q, want %q", dm.Unit, k, got, v)
			}
		}
		var creds []string
		for _, c := range dm.Credentials {
			creds = append(creds, c.Name+":"+c.Path)
		}
		if got := u.values("Service", "LoadCredential"); !slices.Equal(got, creds) {
			t.Errorf("%s: LoadCredential=%q, want exactly %q", dm.Unit, got, creds)
		}
		// Every daemon reloads on SIGHUP (shared/lifecycle).
		if reload := u.values("Service", "ExecReload"); !slices.Equal(reload, []string{"/bin/kill -HUP $MAINPID"}) {
			t.Errorf("%s: ExecReload=%q, want SIGHUP to the main process", dm.Unit, reload)
		}
		if mdwe := u.values("Service", "MemoryDenyWriteExecute"); dm.WriteExecute != (len(mdwe) == 0) {
			t.Errorf("%s: MemoryDenyWriteExecute=%q with WriteExecute=%v", dm.Unit, mdwe, dm.WriteExecute)
		}
		// The fault matrix's SIGSTOP rows wait for a restart within it.
		if got := u.one(t, dm.Unit, "Service", "WatchdogSec"); got != "30s" {
			t.Errorf("%s: WatchdogSec=%q, want 30s", dm.Unit, got)
		}
		if u.one(t, dm.Unit, "Service", "RestartSec") == "" {
			t.Errorf("%s: no restart delay", dm.Unit)
		}
		// Retried for ever: a burst of crashes never leaves a daemon failed.
		if got := u.one(t, dm.Unit, "Unit", "StartLimitIntervalSec"); got != "0" || u.values("Unit", "StartLimitBurst") != nil {
			t.Errorf("%s: StartLimitIntervalSec=%q StartLimitBurst=%q, want 0 and none", dm.Unit, got, u.values("Unit", "StartLimitBurst"))
		}
		for k, v := range map[string]string{
			"MemoryMax": dm.MemoryMax, "TasksMax": fmt.Sprint(dm.TasksMax), "LimitNOFILE": fmt.Sprint(dm.LimitNOFILE),
		} {
			if got := u.one(t, dm.Unit, "Service", k); got != v {
				t.Errorf("%s: %s=%q, want %q", dm.Unit, k, got, v)
			}
		}
		if got, want := u.values("Service", "Environment"), nonEmpty(prefixed("GOMEMLIMIT=", dm.GoMemLimit)); !slices.Equal(got, want) {
			t.Errorf("%s: Environment=%q, want %q", dm.Unit, got, want)
		}
		if got := u.one(t, dm.Unit, "Unit", "PartOf"); got != d.Target {
			t.Errorf("%s: PartOf=%q, want %q", dm.Unit, got, d.Target)
		}
	}
	wd := parseUnit(t, out["clem-acme-watchdog.service"])
	if wd.one(t, "watchdog", "Service", "IPAddressDeny") != "any" || wd.one(t, "watchdog", "Service", "PrivateNetwork") != "yes" {
		t.Errorf("watchdog is not cut off the network")
	}

	for _, a := range d.Agents {
		u := parseUnit(t, out[a.Unit])
		for k, v := range common {
			if got := u.one(t, a.Unit, "Service", k); got != v {
				t.Errorf("%s: %s=%q, want %q", a.Unit, k, got, v)
			}
		}
		for k, v := range map[string]string{
			"User": a.User, "EnvironmentFile": a.EnvFile,
			"ExecStart": a.RunnerExec, "KillMode": "control-group", "ProtectHome": "tmpfs",
			"BindPaths": a.Home, "ReadWritePaths": a.Home + " " + a.StateDir,
		} {
			if got := u.one(t, a.Unit, "Service", k); got != v {
				t.Errorf("%s: %s=%q, want %q", a.Unit, k, got, v)
			}
		}
		// Pinned: verified before start and kept on loopback. Not pinned: neither.
		pinned := map[string][]string{
			"ExecStartPre": {"+" + a.VerifyExec}, "IPAddressDeny": {"any"}, "IPAddressAllow": {"localhost"},
		}
		for k, v := range pinned {
			if a.VerifyExec == "" {
				v = nil
			}
			if got := u.values("Service", k); !slices.Equal(got, v) {
				t.Errorf("%s: %s=%q, want %q", a.Unit, k, got, v)
			}
		}
		if got := u.values("Service", "MemoryDenyWriteExecute"); got != nil {
			t.Errorf("%s: MemoryDenyWriteExecute=%q: Claude Code's JIT needs W+X pages", a.Unit, got)
		}
		for k, v := range map[string]string{
			"MemoryMax": a.MemoryMax, "TasksMax": fmt.Sprint(a.TasksMax), "LimitNOFILE": fmt.Sprint(a.LimitNOFILE),
			// nologin is the user's shell; tmux and the Bash tool need a real one.
			"Environment": "SHELL=/bin/bash",
			// The project's port block is its daemons' alone.
			"SocketBindDeny": fmt.Sprintf("%d-%d", d.PortFirst, d.PortLast),
		} {
			if got := u.one(t, a.Unit, "Service", k); got != v {
				t.Errorf("%s: %s=%q, want %q", a.Unit, k, got, v)
			}
		}
		if got, want := u.values("Service", "CPUQuota"), nonEmpty(a.CPUQuota); !slices.Equal(got, want) {
			t.Errorf("%s: CPUQuota=%q, want %q", a.Unit, got, want)
		}
		if got, want := u.values("Unit", "Wants"), nonEmpty(strings.Join(a.After, " ")); !slices.Equal(got, want) {
			t.Errorf("%s: Wants=%q, want %q", a.Unit, got, want)
		}
	}
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// TestRenderOnlyPresent: a project without sidecars gets no sidecar unit,
// and its target does not want one.
func TestRenderOnlyPresent(t *testing.T) {
	d := fleet("/usr/local/bin")
	d.Daemons = slices.DeleteFunc(d.Daemons, func(dm Daemon) bool { return dm.Role == "mcp" })
	d.Agents = d.Agents[:1] // no dev, no solo
	out, err := loadRepo(t).Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for name := range out {
		if strings.Contains(name, "-mcp-") {
			t.Errorf("sidecar unit %s rendered for a project without sidecars", name)
		}
	}
	if len(out) != 2+len(d.Daemons)+len(d.Agents) { // the target and the egress unit
		t.Errorf("Render made %v", sortedNames(out))
	}
	d.Egress = nil
	if out, err := loadRepo(t).Render(d); err != nil || out["clem-acme-egress.service"] != nil || bytes.Contains(out[d.Target], []byte("egress")) {
		t.Errorf("a project without pinned agents still gets the egress unit (err %v)", err)
	}
	if bytes.Contains(out[d.Target], []byte("mcp")) || bytes.Contains(out[d.Target], []byte("agent-dev")) || bytes.Contains(out[d.Target], []byte("agent-solo")) {
		t.Errorf("target names a unit that is not rendered:\n%s", out[d.Target])
	}
}

// TestRenderEscapes: % and $ in a command line stay literal for systemd.
func TestRenderEscapes(t *testing.T) {
	d := fleet("/usr/local/bin")
	d.Agents[0].RunnerExec = "/usr/local/bin/runner run --label 100%$HOME"
	out, err := loadRepo(t).Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out[d.Agents[0].Unit], []byte("ExecStart=/usr/local/bin/runner run --label 100%%$$HOME\n")) {
		t.Errorf("command line not escaped:\n%s", out[d.Agents[0].Unit])
	}
}

func TestRenderRejects(t *testing.T) {
	s := loadRepo(t)
	cases := []struct {
		name string
		edit func(*Data)
		want string
	}{
		{"newline in a command", func(d *Data) { d.Agents[0].RunnerExec += "\nExecStartPre=/bin/sh" }, "RunnerExec"},
		{"relative program", func(d *Data) { d.Agents[0].VerifyExec = "clem egress verify" }, "VerifyExec"},
		{"verify with a newline", func(d *Data) { d.Agents[0].VerifyExec += "\n" }, "VerifyExec"},
		{"space in a path", func(d *Data) { d.Daemons[0].ReadWritePaths = []string{"/var/lib/a /"} }, "ReadWritePaths"},
		{"relative path", func(d *Data) { d.Agents[1].Home = "home/acme-dev" }, "Home"},
		{"unclean path", func(d *Data) { d.Agents[1].StateDir = "/var/lib/clem/../../etc" }, "StateDir"},
		{"colon in home", func(d *Data) { d.Agents[1].Home = "/home/a:/etc" }, "Home"},
		{"program with arguments", func(d *Data) { d.Daemons[0].Exec = "/usr/local/bin/pipelock run" }, "Exec"},
		{"specifier in config", func(d *Data) { d.Daemons[1].Config = "/etc/%h.toml" }, "Config"},
		{"credential name with a colon", func(d *Data) { d.Daemons[1].Credentials[0].Name = "a:b" }, "credential name"},
		{"credential path relative", func(d *Data) { d.Daemons[1].Credentials[0].Path = "token" }, "credential path"},
		{"duplicate unit", func(d *Data) { d.Agents[1].Unit = d.Agents[0].Unit }, "appears twice"},
		{"unit without suffix", func(d *Data) { d.Daemons[2].Unit = "clem-acme-mcp" }, ".service"},
		{"bad target", func(d *Data) { d.Target = "clem-acme.service" }, ".target"},
		{"user with a space", func(d *Data) { d.Daemons[3].User = "acme coord" }, "User"},
		{"cores, not a percentage", func(d *Data) { d.Agents[0].CPUQuota = "1.5" }, "CPUQuota"},
		{"memory with a newline", func(d *Data) { d.Agents[0].MemoryMax = "4G\nUser=root" }, "MemoryMax"},
		{"unknown role", func(d *Data) { d.Daemons[0].Role = "proxy" }, "no template daemon-proxy.service.tmpl"},
		{"bad After", func(d *Data) { d.Agents[0].After = []string{"x y"} }, "After"},
		{"agent without a memory limit", func(d *Data) { d.Agents[1].MemoryMax = "" }, "MemoryMax"},
		{"agent without a task limit", func(d *Data) { d.Agents[1].TasksMax = 0 }, "TasksMax"},
		{"daemon without a file limit", func(d *Data) { d.Daemons[2].LimitNOFILE = 0 }, "LimitNOFILE"},
		{"daemon memory with a space", func(d *Data) { d.Daemons[0].MemoryMax = "1 G" }, "MemoryMax"},
		{"GOMEMLIMIT not in MiB", func(d *Data) { d.Daemons[0].GoMemLimit = "1GiB\nUser=root" }, "GoMemLimit"},
		{"no port block", func(d *Data) { d.PortFirst, d.PortLast = 0, 0 }, "port block"},
		{"port block past 65535", func(d *Data) { d.PortLast = 70000 }, "port block"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := fleet("/usr/local/bin")
			tc.edit(&d)
			out, err := s.Render(d)
			if err == nil {
				t.Fatalf("Render = %d files, want an error naming %q", len(out), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render error = %q, want it to name %q", err, tc.want)
			}
		})
	}
}
