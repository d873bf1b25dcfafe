package ghpolicy

import (
	"fmt"

	"github.com/clemhq/clem/shared/daemonconf"
)

// DefaultMaxPackBytes bounds the pack the vault holds to check a push when
// the policy does not say (max_pack_bytes = 0).
const DefaultMaxPackBytes = 256 << 20

// Policy is one agent's compiled GitHub policy. It is immutable, so one
// Policy may serve concurrent requests.
type Policy struct {
	agent     string
	key       string // "agents.<agent>.github": where a Reason sends the operator
	level     Level
	read      []repoPattern
	push      []repoPattern
	branches  []branchPattern
	protected []branchPattern
	allow     map[string]bool
	deny      map[string]bool
	force     bool
	delete    bool
	workflows bool
	maxPack   int64

	// The settings as written, for Reasons.
	src daemonconf.VaultGitHub
}

// Compile checks one agent's policy and prepares it for deciding. Every
// error names the setting and the value at fault.
func Compile(g daemonconf.VaultGitHub) (*Policy, error) {
	if g.Agent == "" {
		return nil, fmt.Errorf("github policy: agent is empty: name the agent it applies to")
	}
	key := "agents." + g.Agent + ".github"
	p := &Policy{
		agent:     g.Agent,
		key:       key,
		allow:     map[string]bool{},
		deny:      map[string]bool{},
		force:     g.Force,
		delete:    g.Delete,
		workflows: g.Workflows,
		maxPack:   g.MaxPackBytes,
		src:       g,
	}
	var err error
	if p.level, err = ParseLevel(g.Level); err != nil {
		return nil, fmt.Errorf("%s.level: %w", key, err)
	}
	for _, s := range g.Read {
		rp, err := parseRepoPattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s.read %q: %w", key, s, err)
		}
		p.read = append(p.read, rp)
	}
	for _, s := range g.Push {
		rp, err := parseRepoPattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s.push %q: %w", key, s, err)
		}
		p.push = append(p.push, rp)
	}
	for _, s := range g.Branches {
		bp, err := parseBranchPattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s.branches %q: %w", key, s, err)
		}
		p.branches = append(p.branches, bp)
	}
	for _, s := range g.Protected {
		bp, err := parseBranchPattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s.protected %q: %w", key, s, err)
		}
		p.protected = append(p.protected, bp)
	}
	for _, s := range g.Allow {
		if _, ok := opsByName[s]; !ok {
			return nil, fmt.Errorf("%s.allow %q: unknown operation (docs/github.md lists them)", key, s)
		}
		p.allow[s] = true
	}
	for _, s := range g.Deny {
		if _, ok := opsByName[s]; !ok {
			return nil, fmt.Errorf("%s.deny %q: unknown operation (docs/github.md lists them)", key, s)
		}
		p.deny[s] = true
	}
	if g.MaxPackBytes < 0 {
		return nil, fmt.Errorf("%s.max_pack_bytes %d: must not be negative (0: the default, %d)", key, g.MaxPackBytes, DefaultMaxPackBytes)
	}
	if p.maxPack == 0 {
		p.maxPack = DefaultMaxPackBytes
	}
	return p, nil
}

// Agent is the agent the policy is for.
func (p *Policy) Agent() string { return p.agent }

// Level is the agent's level.
func (p *Policy) Level() Level { return p.level }

// MaxPackBytes bounds the pack the caller holds to check a push: a bigger
// push is refused, not passed unchecked.
func (p *Policy) MaxPackBytes() int64 { return p.maxPack }

// opRefusal says why op is refused, or "" when the policy allows it: the
// level (or an explicit allow) must include it and no deny may name it.
func (p *Policy) opRefusal(name string) string {
	op, ok := opsByName[name]
	if !ok {
		// Only this package names operations; an unknown one is a bug
		// here, and a bug must refuse.
		return fmt.Sprintf("operation %q is not in the policy's vocabulary", name)
	}
	if p.deny[name] {
		return fmt.Sprintf("%q is in %s.deny", name, p.key)
	}
	if p.level >= op.Level || p.allow[name] {
		return ""
	}
	return fmt.Sprintf("%s needs level %s, %s.level is %q; add %q to %s.allow to permit it", name, op.Level, p.key, p.level, name, p.key)
}

// opsRefusal checks every op; the first refused one decides.
func (p *Policy) opsRefusal(ops []string) (refused, reason string) {
	for _, op := range ops {
		if r := p.opRefusal(op); r != "" {
			return op, r
		}
	}
	return "", ""
}

func (p *Policy) canRead(repo string) bool {
	return matchRepos(p.read, repo) || matchRepos(p.push, repo)
}

func (p *Policy) canPush(repo string) bool {
	return matchRepos(p.push, repo)
}

func (p *Policy) readRefusal(repo string) string {
	return fmt.Sprintf("%s is not in %s.read %q or %s.push %q", repo, p.key, p.src.Read, p.key, p.src.Push)
}

func (p *Policy) pushRefusal(repo string) string {
	return fmt.Sprintf("%s is not in %s.push %q", repo, p.key, p.src.Push)
}
