package daemonconf

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/clemhq/clem/shared/tomlconf"
)

func dur(d time.Duration) tomlconf.Duration { return tomlconf.Duration{Duration: d} }

func durp(d time.Duration) *tomlconf.Duration { v := dur(d); return &v }

// TestEncodeDecodeStrict: each contract, with every key set, encodes (as
// clem provision encodes it) and decodes strictly (as the daemon decodes
// it) to the same value. A tag misspelt on one side, or a key that only
// one side knows, fails here; what provision actually writes for its
// fixture teams is checked against each daemon's own validation in that
// daemon's internal/config (TestProvisionedConfigLoads).
func TestEncodeDecodeStrict(t *testing.T) {
	night, jitter, keep := "22:00-07:00", 0.2, 3
	policy := PipelockPolicy{Domains: []string{"a.example"}, Ports: []int{443}, HTTPDomains: []string{"h.example"}, HTTPPorts: []int{80},
		IPRanges: []string{"192.0.2.0/24"}, AllowRanges: []string{"10.0.0.0/8"}, Brokered: []string{"b.example"}, Rate: 2.5, Burst: 4,
		BudgetBytes: 1 << 20, BudgetEvery: dur(time.Hour)}
	tests := []struct {
		name string
		v    any
	}{
		{"watchdog", &Watchdog{Project: "p", Interval: dur(15 * time.Second), CoordSocket: "/c", EgressState: "/e", StateFile: "/s",
			Admin: WatchdogAdmin{Socket: "/a"}, Alert: WatchdogAlert{Failures: 3, Window: dur(time.Minute), Cooldown: durp(time.Hour)},
			Agents:  []WatchdogAgent{{Key: "k", Unit: "u.service", StateFile: "/st", StallAfter: dur(time.Minute)}},
			Daemons: []WatchdogDaemon{{Role: "r", Unit: "d.service", Health: "/h"}}}},
		{"runner", &Runner{Project: "p", Agent: "a", Name: "A", Runtime: RuntimeCommand, Command: []string{"/bin/true"}, Model: "m", Effort: "high",
			Iteration: dur(time.Minute), IterationNight: durp(time.Hour), StallTimeout: dur(time.Minute), MaxIteration: dur(time.Hour),
			BackoffMax: dur(time.Hour), ClaudeBin: "/c", PermissionMode: "plan", PromptFile: "/p", MCPConfig: "/m", Settings: "/s",
			StateDir: "/st", WorkDir: "/w", CoordSocket: "/cs", TmuxSession: "t", Night: &night, Jitter: &jitter, MinGap: durp(time.Second),
			KillGrace: dur(time.Second), Heartbeat: dur(time.Minute), MaxTurns: 5, Transcripts: &keep, TmuxBin: "/tmux",
			ReservedPorts: &RunnerPorts{First: 1, Last: 2}, Git: RunnerGit{Name: "n", Email: "e@x"}, Env: map[string]string{"K": "v"}}},
		{"coord", &Coord{Project: "p", Backend: "github", Operators: []string{"o"}, Lease: CoordLease{TTL: dur(time.Hour)},
			MCP:    CoordMCP{Listen: "127.0.0.1:1", MaxBodyBytes: 10, Conns: CoordConns{PerUID: 1, Total: 2}},
			Socket: CoordSocket{Path: "/s", WatchdogUIDs: []uint32{1}, OperatorUIDs: []uint32{2}, Conns: CoordConns{PerUID: 3, Total: 4}},
			Admin:  CoordAdmin{Socket: "/a"}, State: CoordState{Dir: "/d"}, Audit: Audit{Path: "/l", MaxSizeMB: 1, Keep: 2},
			Retry: CoordRetry{Min: dur(time.Second), Max: dur(time.Minute)}, Secrets: CoordSecrets{Dir: "/sec"},
			Limits:  CoordLimits{MaxTextBytes: 1, WritesPerHour: 2, BytesPerHour: 3, BytesPerDay: 4, OutboxMax: 5, OutboxPerAgent: 6},
			GitHub:  &CoordGitHub{Repo: "o/r", APIURL: "http://g", Token: "t", Labels: CoordLabels{Task: "a", InProgress: "b", Blocked: "c", Alert: "d"}, PollInterval: dur(time.Second)},
			Slack:   &CoordSlack{TasksChannel: "C1", AlertsChannel: "C2", APIURL: "http://s", Token: "t", AppToken: "at"},
			Discord: &CoordDiscord{ServerID: "1", TasksChannel: "2", AlertsChannel: "3", APIURL: "http://d", GatewayURL: "ws://g", Token: "t"},
			Agents:  []CoordAgent{{Key: "k", Name: "K", UID: 7}}}},
		{"sidecar", &Sidecar{Admin: SidecarAdmin{Socket: "/a"}, Audit: Audit{Path: "/l"}, Secrets: SidecarSecrets{Dir: "/s"},
			Children: SidecarChildren{Dir: "/c"}, Limits: SidecarLimits{MaxBodyBytes: 1, MaxHeaderBytes: 2, HeaderTimeout: dur(time.Second),
				BodyTimeout: dur(time.Second), IdleTimeout: dur(time.Second), MaxConnsPerUID: 3, MaxConns: 4, MaxSessionsPerUID: 5, MaxSessions: 6, SessionIdle: dur(time.Minute)},
			Clients: []SidecarClient{{Name: "k", UIDs: []uint32{7}}},
			Servers: []SidecarServer{{Name: "s", Listen: "127.0.0.1:1", Command: []string{"/bin/x"}, URL: "http://u", Identity: "shared",
				Agents: []string{"k"}, CallTimeout: dur(time.Minute), Env: map[string]string{"A": "b"},
				Secrets: []SidecarSecretRef{{Name: "n", Env: "E", File: "f", Header: "H", Prefix: "P "}}}}}},
		{"vault", &Vault{Listen: VaultListen{Socket: "/s", TCP: "127.0.0.1:1", Admin: "/a"}, Trust: VaultTrust{ProxyUIDs: []uint32{1}},
			CA: VaultCA{Dir: "/ca"}, Secrets: VaultSecrets{Dir: "/sec"}, Upstream: VaultUpstream{CAFile: "/u", HTTP2: true, DialTimeout: dur(time.Second)},
			Audit: Audit{Path: "/l", MaxSizeMB: 1, Keep: 2}, Limits: VaultLimits{ConnsPerAgent: 1, ConnsTotal: 2, RequestsPerAgent: 3, RequestsTotal: 4, MaxHeaderBytes: 5},
			Resolve: []Resolve{{Host: "h", Port: 443, Address: "192.0.2.1:443"}}, Clients: []VaultClient{{Name: "c", UIDs: []uint32{2}}},
			Bindings: []VaultBinding{{Name: "b", Secret: "s", Hosts: []string{"h"}, Methods: []string{"GET"}, PathPrefixes: []string{"/v1"},
				Surfaces: []string{"header"}, Auth: "bearer", Header: "X", BasicUser: "u", Placeholders: []VaultPlaceholder{{Agent: "k", Value: "ph"}}}}}},
		{"pipelock", &Pipelock{Listen: PipelockListen{Proxy: "127.0.0.1:1", Transparent: "127.0.0.1:2", Admin: "/a"},
			Audit:  PipelockAudit{Path: "/l", MaxSizeMB: 1, Keep: 2, FloodRecords: 3, FloodWindow: dur(time.Minute)},
			Limits: PipelockLimits{MaxConnsPerUID: 1, MaxConns: 2, HeaderTimeout: dur(time.Second), MaxHeaderBytes: 3},
			Vault:  PipelockVault{Socket: "/v"}, Resolve: []Resolve{{Host: "h", Port: 443, Address: "192.0.2.1:443"}},
			Default: &policy, Clients: []PipelockClient{{Name: "k", UIDs: []uint32{7}, PipelockPolicy: policy}},
			Upstream: PipelockUpstream{DialTimeout: dur(time.Second), IdleTimeout: dur(time.Minute), HelloTimeout: dur(time.Second), SNI: "off"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := toml.NewEncoder(&b).Encode(tt.v); err != nil {
				t.Fatalf("encode: %v", err)
			}
			back := reflect.New(reflect.TypeOf(tt.v).Elem()).Interface()
			if err := tomlconf.Decode(tt.name+".toml", b.Bytes(), back); err != nil {
				t.Fatalf("Decode(encoded) = %v\n%s", err, b.String())
			}
			if !reflect.DeepEqual(back, tt.v) {
				t.Errorf("decoded %+v\nwant %+v\nfrom:\n%s", back, tt.v, b.String())
			}
		})
	}
}
