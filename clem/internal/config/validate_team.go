package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clemhq/clem/shared/daemonconf"
	"github.com/clemhq/clem/shared/hostpattern"
)

// NameRE is what a project or agent key must match: it becomes part of a
// Linux user name (<project>-<agent>).
var NameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// MaxUserName is the longest Linux user name useradd accepts.
const MaxUserName = 32

// DaemonRoles are the users every project gets for its daemons
// (<project>-<role>); agent keys may not take these names.
var DaemonRoles = []string{"pipelock", "vault", "mcp", "coord", "watchdog"}

const nameRule = "a lower-case letter, then up to 30 lower-case letters, digits or hyphens (^[a-z][a-z0-9-]{0,30}$)"

var efforts = []string{"low", "medium", "high", "xhigh", "max"}

const (
	defaultIteration = 10 * time.Minute
	minIteration     = 30 * time.Second
	maxIteration     = 24 * time.Hour

	defaultStallTimeout = 20 * time.Minute
	minStallTimeout     = 5 * time.Second
	defaultMaxIteration = 2 * time.Hour
	defaultBackoffMax   = 2 * time.Hour
	defaultProxyPort    = 3128
	maxPromptSize       = 256 << 10
)

const missingProject = "missing; add `project: NAME`, the prefix of every user the team gets (" + nameRule + ")"

func (v *validator) project() {
	if !v.present("project") {
		v.errs = append(v.errs, &Error{File: v.d.file, Line: 1, Column: 1, Key: "project", Msg: missingProject})
		return
	}
	if msg := projectNameProblem(v.cfg.Project); msg != "" {
		v.errorf("project", "%s", msg)
	}
}

// projectNameProblem says what is wrong with a project name, or "".
func projectNameProblem(name string) string {
	switch {
	case !NameRE.MatchString(name):
		return fmt.Sprintf("%q is not a valid user-name prefix; want %s", name, nameRule)
	case len(name)+len("-watchdog") > MaxUserName:
		return fmt.Sprintf("%q is %d characters: its daemons' users (%s-watchdog, %s-pipelock) would be longer than Linux allows (%d); use at most %d characters",
			name, len(name), name, name, MaxUserName, MaxUserName-len("-watchdog"))
	}
	return ""
}

func (v *validator) egress() {
	e := &v.cfg.Egress
	if !e.IsEnabled() {
		v.warnf("egress.enabled", "egress pinning is off: agents can reach any host directly")
	}
	v.patterns("egress.domains", e.Domains)
	v.patterns("egress.http_domains", e.HTTPDomains)
	if e.Ports == nil {
		e.Ports = []int{443}
	}
	v.ports("egress.ports", e.Ports)
	if e.ProxyPort == 0 && !v.present("egress.proxy_port") {
		e.ProxyPort = defaultProxyPort
	}
	if e.ProxyPort < 1 || e.ProxyPort > 65535 {
		v.errorf("egress.proxy_port", "%d is not a TCP port (1-65535)", e.ProxyPort)
	}
	// The project's loopback ports are a block from the proxy port: the
	// transparent listener, coord's MCP endpoint, then one per sidecar.
	if last := e.ProxyPort + 3 + len(v.cfg.Sidecars); e.ProxyPort >= 1 && last > 65535 {
		v.errorf("egress.proxy_port", "%d leaves no room for the project's ports (up to %d with %d sidecars); pick a port below %d", e.ProxyPort, last, len(v.cfg.Sidecars), 65535-3-len(v.cfg.Sidecars))
	}
	if len(v.cfg.Sidecars) > 28 {
		v.errorf("sidecars", "%d sidecars: at most 28 fit in a project's block of 32 loopback ports", len(v.cfg.Sidecars))
	}
	v.resolve(e)
	if e.UpstreamCA != "" && !filepath.IsAbs(e.UpstreamCA) {
		e.UpstreamCA = filepath.Join(v.cfg.Dir, e.UpstreamCA)
	}
}

// resolve parses egress.resolve entries: "host:port=ip:port".
func (v *validator) resolve(e *Egress) {
	e.ResolveMap = map[string]netip.AddrPort{}
	for i, r := range e.Resolve {
		path := fmt.Sprintf("egress.resolve[%d]", i)
		from, to, ok := strings.Cut(r, "=")
		host, port, err := net.SplitHostPort(from)
		ap, aerr := netip.ParseAddrPort(to)
		if !ok || err != nil || aerr != nil || host == "" || port == "" {
			v.errorf(path, "%q: want host:port=ip:port, e.g. api.anthropic.com:443=127.0.0.1:9443", r)
			continue
		}
		canon, err := hostpattern.CanonicalHost(host)
		if err != nil {
			v.errorf(path, "%q: %v", r, err)
			continue
		}
		e.ResolveMap[net.JoinHostPort(canon, port)] = ap
	}
}

// patterns validates host patterns and rewrites them in canonical form.
func (v *validator) patterns(path string, ps []string) {
	for i, s := range ps {
		p, err := hostpattern.Parse(s)
		if err != nil {
			v.errorf(fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		ps[i] = p.String()
	}
}

func (v *validator) ports(path string, ports []int) {
	seen := map[int]bool{}
	for i, p := range ports {
		ip := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case p < 1 || p > 65535:
			v.errorf(ip, "%d is not a TCP port (1-65535)", p)
		case seen[p]:
			v.errorf(ip, "port %d is listed twice", p)
		}
		seen[p] = true
	}
}

func (v *validator) agents() {
	c := v.cfg
	if len(c.Agents) == 0 {
		if v.present("agents") {
			v.errorf("agents", "no agents; define at least one under agents:")
		} else {
			v.errs = append(v.errs, &Error{File: v.d.file, Line: 1, Column: 1, Key: "agents", Msg: "missing; add an agents: mapping with at least one agent"})
		}
		return
	}
	names := map[string]string{}
	for _, a := range c.Agents {
		p := "agents." + a.Key
		v.agentKey(a, p)
		if a.Name == "" {
			a.Name = capitalize(a.Key)
		}
		if other, dup := names[a.Name]; dup {
			v.errorf(p+".name", "name %q is already used by agent %s; people address agents by name, so names must differ", a.Name, other)
		}
		names[a.Name] = a.Key
		v.runtime(a, p)
		v.provider(a, p)
		v.schedule(a, p)
		v.prompt(a, p)
		v.agentEgress(a, p)
		v.agentSecrets(a, p)
		v.agentSidecars(a, p)
		v.limits(a, p)
		v.git(a, p)
		v.github(a, p)
	}
}

func (v *validator) agentKey(a *Agent, p string) {
	switch {
	case !NameRE.MatchString(a.Key):
		v.keyErrorf(p, "agent name %q is not a valid user-name part; want %s", a.Key, nameRule)
	case oneOf(a.Key, DaemonRoles...):
		v.keyErrorf(p, "%q is reserved for the project's %s daemon user; pick another agent name (reserved: %s)", a.Key, a.Key, strings.Join(DaemonRoles, ", "))
	}
	a.User = v.cfg.Project + "-" + a.Key
	if NameRE.MatchString(v.cfg.Project) && NameRE.MatchString(a.Key) && len(a.User) > MaxUserName {
		v.keyErrorf(p, "user name %q is %d characters, more than Linux allows (%d); shorten the project or the agent name", a.User, len(a.User), MaxUserName)
	}
}

func (v *validator) runtime(a *Agent, p string) {
	if a.Runtime == "" {
		a.Runtime = RuntimeClaudeCode
	}
	switch {
	case !oneOf(a.Runtime, daemonconf.Runtimes()...):
		v.errorf(p+".runtime", "%q is not a runtime; allowed: %s", a.Runtime, strings.Join(daemonconf.Runtimes(), ", "))
	case a.Runtime == RuntimeCommand && len(a.Command) == 0:
		v.errorf(p+".runtime", "runtime command needs command: [program, args...]")
	case a.Runtime != RuntimeCommand && len(a.Command) > 0:
		v.errorf(p+".command", "command is only for runtime: command (this agent runs %s)", a.Runtime)
	}
	if a.Model == "" && a.Runtime == RuntimeClaudeCode {
		a.Model = "sonnet"
	}
	if a.Effort == "" {
		a.Effort = "medium"
	} else if !oneOf(a.Effort, efforts...) {
		v.errorf(p+".effort", "%q is not an effort level; allowed: %s", a.Effort, strings.Join(efforts, ", "))
	}
}

func (v *validator) provider(a *Agent, p string) {
	pr := &a.Provider
	pp := p + ".provider"
	if pr.Type == "" {
		pr.Type = ProviderAnthropic
	}
	switch pr.Type {
	case ProviderAnthropic, ProviderOpenAI:
	case ProviderBedrock, ProviderVertex:
		if pr.URL != "" {
			v.errorf(pp+".url", "%s takes no url; its endpoint comes from the cloud region", pr.Type)
		}
	case ProviderOllama:
	default:
		v.errorf(pp, "%q is not a provider; allowed: anthropic, bedrock, vertex, openai (any OpenAI-compatible URL), ollama", pr.Type)
		return
	}
	if (pr.Type == ProviderOpenAI || pr.Type == ProviderOllama) && pr.URL == "" {
		v.errorf(pp, "provider %s needs a url, e.g. {type: %s, url: https://llm.example.com/v1}", pr.Type, pr.Type)
	}
	if pr.URL != "" {
		if u, err := url.Parse(pr.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.errorf(pp+".url", "%q is not an http(s) URL", pr.URL)
		}
	}
	if pr.Credential == "" && !v.present(pp+".credential") {
		switch pr.Type {
		case ProviderAnthropic:
			pr.Credential = "anthropic_api_key"
		case ProviderOpenAI:
			pr.Credential = "openai_api_key"
		}
	}
	if pr.Credential == "" {
		return
	}
	s := v.secretRef(pp+".credential", pr.Credential)
	if s == nil && !v.reported(pr.Credential) {
		host := v.providerHost(pr)
		if host == "" {
			v.errorf(pp+".credential", "secret %q is not declared under secrets:; declare it with disposition brokered and the provider's hosts", pr.Credential)
			return
		}
		v.cfg.Secrets = append(v.cfg.Secrets, &Secret{
			Name: pr.Credential, Disposition: DispBrokered, Hosts: []string{host},
			Env: strings.ToUpper(pr.Credential), Implicit: true,
		})
	}
}

func (v *validator) providerHost(pr *Provider) string {
	if pr.URL != "" {
		if u, err := url.Parse(pr.URL); err == nil {
			return u.Hostname()
		}
		return ""
	}
	if pr.Type == ProviderAnthropic {
		return "api.anthropic.com"
	}
	return ""
}

func (v *validator) schedule(a *Agent, p string) {
	if a.Iteration.Duration == 0 {
		a.Iteration.Duration = defaultIteration
	}
	if a.IterationNight.Duration == 0 {
		a.IterationNight = a.Iteration
	}
	for _, f := range []struct {
		key string
		d   time.Duration
	}{{"iteration", a.Iteration.Duration}, {"iteration_night", a.IterationNight.Duration}} {
		if f.d < minIteration || f.d > maxIteration {
			v.errorf(p+"."+f.key, "%s is outside the allowed range %s to %s", formatDuration(f.d), formatDuration(minIteration), formatDuration(maxIteration))
		}
	}
	if a.StallTimeout.Duration == 0 {
		a.StallTimeout.Duration = defaultStallTimeout
	}
	if a.MaxIteration.Duration == 0 {
		a.MaxIteration.Duration = defaultMaxIteration
	}
	if a.StallTimeout.Duration < minStallTimeout {
		v.errorf(p+".stall_timeout", "%s is too short: at least %s (a slow model can be silent that long)", formatDuration(a.StallTimeout.Duration), formatDuration(minStallTimeout))
	}
	if a.MaxIteration.Duration < a.StallTimeout.Duration {
		v.errorf(p+".max_iteration", "%s is shorter than stall_timeout %s", formatDuration(a.MaxIteration.Duration), formatDuration(a.StallTimeout.Duration))
	}
	longest := max(a.Iteration.Duration, a.IterationNight.Duration)
	switch {
	case a.BackoffMax.Duration == 0:
		a.BackoffMax.Duration = max(defaultBackoffMax, longest)
	case a.BackoffMax.Duration < longest:
		v.errorf(p+".backoff_max", "%s is shorter than the iteration interval %s (failing iterations would come faster than healthy ones)", formatDuration(a.BackoffMax.Duration), formatDuration(longest))
	case a.BackoffMax.Duration > maxIteration:
		v.errorf(p+".backoff_max", "%s is longer than %s", formatDuration(a.BackoffMax.Duration), formatDuration(maxIteration))
	}
}

// watchdog applies defaults and bounds (the watchdog checks them again).
func (v *validator) watchdog() {
	w := &v.cfg.Watchdog
	def := func(d *Duration, val time.Duration) {
		if d.Duration == 0 {
			d.Duration = val
		}
	}
	def(&w.Interval, 15*time.Second)
	def(&w.Window, 30*time.Minute)
	def(&w.Cooldown, time.Hour)
	if w.AlertAfter == 0 {
		w.AlertAfter = 3
	}
	if w.Interval.Duration < time.Second || w.Interval.Duration > 10*time.Minute {
		v.errorf("watchdog.interval", "%s is outside the allowed range 1s to 10m", w.Interval)
	}
	if w.AlertAfter < 1 || w.AlertAfter > 100 {
		v.errorf("watchdog.alert_after", "%d: want 1 to 100 bad checks", w.AlertAfter)
	}
	if w.Window.Duration < time.Duration(w.AlertAfter)*w.Interval.Duration {
		v.errorf("watchdog.window", "%s is shorter than alert_after x interval (%d x %s)", w.Window, w.AlertAfter, w.Interval)
	}
}

// runtimes checks the CLIs' paths are absolute.
func (v *validator) runtimes() {
	r := v.cfg.Runtimes
	for key, path := range map[string]string{RuntimeClaudeCode: r.ClaudeCode, RuntimeCodex: r.Codex, RuntimeOpenCode: r.OpenCode} {
		if path != "" && !filepath.IsAbs(path) {
			v.errorf("runtimes."+key, "%q must be an absolute path", path)
		}
	}
}

// prompt resolves the standing role prompt. A value with a line break is the
// prompt itself; a single line that starts with ./ ../ / or ~/ or ends in .md
// or .txt names a file (relative to clem.yaml); anything else is inline text.
func (v *validator) prompt(a *Agent, p string) {
	s := a.Prompt
	if s == "" {
		a.PromptText = DefaultPrompt(a)
		return
	}
	if !isPromptPath(s) {
		a.PromptText = s
		return
	}
	path := s
	if strings.HasPrefix(path, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			v.errorf(p+".prompt", "cannot expand ~: %v", err)
			return
		}
		path = filepath.Join(home, path[2:])
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(v.cfg.Dir, path)
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		v.errorf(p+".prompt", "prompt file %s: %v; create it or write the prompt inline", s, unwrapPathErr(err))
		return
	case !fi.Mode().IsRegular():
		v.errorf(p+".prompt", "prompt file %s is not a regular file", s)
		return
	case fi.Size() > maxPromptSize:
		v.errorf(p+".prompt", "prompt file %s is %d bytes; a role prompt may have at most %d", s, fi.Size(), maxPromptSize)
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		v.errorf(p+".prompt", "prompt file %s: %v", s, unwrapPathErr(err))
		return
	}
	if !utf8.Valid(b) {
		v.errorf(p+".prompt", "prompt file %s is not UTF-8 text", s)
		return
	}
	a.PromptFile, a.PromptText = path, string(b)
}

func isPromptPath(s string) bool {
	if strings.ContainsAny(s, "\n") {
		return false
	}
	for _, pre := range []string{"./", "../", "/", "~/"} {
		if strings.HasPrefix(s, pre) {
			return true
		}
	}
	return !strings.ContainsAny(s, " \t") && (strings.HasSuffix(s, ".md") || strings.HasSuffix(s, ".txt"))
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// DefaultPrompt is the role prompt of an agent that names none.
func DefaultPrompt(a *Agent) string {
	role := a.Role
	if role == "" {
		role = "a software engineer"
	}
	return fmt.Sprintf("You are %s, %s on this team. Take the tasks addressed to you or to anyone, work them to completion, and report progress and results through the coordination tools.", a.Name, role)
}

func (v *validator) agentEgress(a *Agent, p string) {
	eff := v.cfg.Egress
	o := a.Egress
	if o.Enabled != nil {
		eff.Enabled = o.Enabled
		if !*o.Enabled {
			v.warnf(p+".egress.enabled", "egress pinning is off for this agent: it can reach any host directly")
		}
	}
	if o.Domains != nil {
		v.patterns(p+".egress.domains", *o.Domains)
		eff.Domains = *o.Domains
	}
	if o.HTTPDomains != nil {
		v.patterns(p+".egress.http_domains", *o.HTTPDomains)
		eff.HTTPDomains = *o.HTTPDomains
	}
	if o.Ports != nil {
		v.ports(p+".egress.ports", *o.Ports)
		eff.Ports = *o.Ports
	}
	a.EgressEff = eff
}

func (v *validator) agentSecrets(a *Agent, p string) {
	seen := map[string]bool{}
	for i, name := range a.Secrets {
		ip := fmt.Sprintf("%s.secrets[%d]", p, i)
		if seen[name] {
			v.errorf(ip, "secret %q is listed twice", name)
			continue
		}
		seen[name] = true
		s := v.secretRef(ip, name)
		if s == nil {
			if !v.reported(name) {
				v.errorf(ip, "secret %q is not declared under secrets:", name)
			}
			continue
		}
		switch s.Disposition {
		case DispSidecar:
			v.errorf(ip, "secret %q has disposition sidecar: agents never hold it; subscribe the agent to the sidecar that uses it", name)
		case DispCoord:
			v.errorf(ip, "secret %q is a coordination token held by coord; agents reach coord through its tools", name)
		case DispReveal:
			v.warnf(ip, "secret %q is revealed: its raw value sits in this agent's environment", name)
		}
	}
}

func (v *validator) agentSidecars(a *Agent, p string) {
	seen := map[string]bool{}
	for i, name := range a.Sidecars {
		ip := fmt.Sprintf("%s.sidecars[%d]", p, i)
		switch {
		case seen[name]:
			v.errorf(ip, "sidecar %q is listed twice", name)
		case v.cfg.Sidecar(name) == nil:
			v.errorf(ip, "sidecar %q is not declared under sidecars:%s", name, v.choices(v.sidecarNames()))
		}
		seen[name] = true
	}
}

var (
	memoryRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?[KMGT]?|[0-9]{1,2}(\.[0-9]+)?%|100%|infinity)$`)
	cpuRE    = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?%?)$`)
)

// limits checks the agent's own resource_limits and fills in the
// effective ones: its own value for each key, else the project's, else
// the default.
func (v *validator) limits(a *Agent, p string) {
	v.resourceLimits(a.ResourceLimits, p+".resource_limits")
	proj, r := v.cfg.ResourceLimits, &a.ResourceLimits
	inherit := func(key string) bool { return !v.present(p + ".resource_limits." + key) }
	str := func(key string, val *string, projVal, def string) {
		switch {
		case !inherit(key):
		case projVal != "":
			*val = projVal
		default:
			*val = def
		}
	}
	str("memory", &r.Memory, proj.Memory, DefaultMemory)
	str("cpu", &r.CPU, proj.CPU, "")
	num := func(key string, val *int, projVal, def int) {
		switch {
		case !inherit(key):
		case v.present("resource_limits." + key):
			*val = projVal
		default:
			*val = def
		}
	}
	num("tasks", &r.Tasks, proj.Tasks, DefaultTasks)
	num("open_files", &r.OpenFiles, proj.OpenFiles, DefaultOpenFiles)
	num("egress_rate", &r.EgressRate, proj.EgressRate, DefaultEgressRate)
	num("egress_burst", &r.EgressBurst, proj.EgressBurst, DefaultEgressBurst)
}

// resourceLimits checks the values written under path (the project's
// defaults or one agent's own); defaults fill the rest afterwards.
func (v *validator) resourceLimits(r ResourceLimits, path string) {
	if r.Memory != "" && !memoryRE.MatchString(r.Memory) {
		v.errorf(path+".memory", "%q is not a memory limit; write bytes with an optional K, M, G or T suffix (4G, 512M), a percentage of RAM (50%%), or infinity", r.Memory)
	}
	if r.CPU != "" {
		if !cpuRE.MatchString(r.CPU) || strings.Trim(r.CPU, "0.%") == "" {
			v.errorf(path+".cpu", "%q is not a CPU limit; write cores (1.5) or a quota (150%%)", r.CPU)
		}
	}
	for _, f := range []struct {
		key       string
		n, lo, hi int
		what      string
	}{
		{"tasks", r.Tasks, 16, 1 << 22, "processes and threads"},
		{"open_files", r.OpenFiles, 256, 1 << 20, "open files per process"},
		{"egress_rate", r.EgressRate, 1, 100000, "new connections per second"},
		{"egress_burst", r.EgressBurst, 1, 1000000, "connections at once above the rate"},
	} {
		if v.present(path+"."+f.key) && (f.n < f.lo || f.n > f.hi) {
			v.errorf(path+"."+f.key, "%d %s: want %d to %d", f.n, f.what, f.lo, f.hi)
		}
	}
}

func (v *validator) git(a *Agent, p string) {
	if a.GitName == "" {
		a.GitName = a.Name
	}
	if a.GitEmail == "" {
		a.GitEmail = a.User + "@users.noreply.clem.invalid"
		return
	}
	addr, err := mail.ParseAddress(a.GitEmail)
	if err != nil || addr.Name != "" || addr.Address != a.GitEmail {
		v.errorf(p+".git_email", "%q is not a plain e-mail address", a.GitEmail)
	}
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// distinctUsers refuses two roles that would run as one OS user: an agent
// named mcp-<server> is the user of that sidecar server, so it would hold
// the server's keys and files and its identity at every daemon. Daemon
// users come first (they are implicit), then sidecars, then agents.
func (v *validator) distinctUsers() {
	type owner struct {
		what, path string
	}
	p := v.cfg.Project
	seen := map[string]owner{}
	for _, r := range DaemonRoles {
		seen[p+"-"+r] = owner{what: "the project's " + r + " daemon"}
	}
	claim := func(user, what, path string) {
		prev, dup := seen[user]
		if !dup {
			seen[user] = owner{what: what, path: path}
			return
		}
		where := "implicit"
		if prev.path != "" {
			q := v.keyAt(prev.path)
			where = fmt.Sprintf("%s:%d:%d", v.d.file, q.line, q.col)
		}
		v.keyErrorf(path, "%s runs as user %q, which is already the user of %s (%s); two roles may not share one OS user (each would hold the other's keys, files and identity): rename one of them",
			what, user, prev.what, where)
	}
	for _, sc := range v.cfg.Sidecars {
		claim(p+"-mcp-"+sc.Name, "sidecar "+sc.Name, "sidecars."+sc.Name)
	}
	for _, a := range v.cfg.Agents {
		if oneOf(a.Key, DaemonRoles...) {
			continue // reported as a reserved name
		}
		claim(a.User, "agent "+a.Key, "agents."+a.Key)
	}
}
