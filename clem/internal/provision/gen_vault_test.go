package provision

import (
	"path/filepath"
	"testing"

	"github.com/clemhq/clem/clem/internal/config"
)

// TestBindingAuth: the model credential always gets an explicit auth mode,
// so the agent cannot choose the header that carries the real key.
func TestBindingAuth(t *testing.T) {
	tests := []struct {
		name, yaml, secret string
		auth, header       string
	}{
		{"implicit anthropic key", "project: p\nagents:\n  lead: {}\n", "anthropic_api_key", "header", "X-Api-Key"},
		{"declared anthropic key without auth", "project: p\nsecrets:\n  anthropic_api_key:\n    disposition: brokered\n    hosts: [api.anthropic.com]\nagents:\n  lead:\n    secrets: [anthropic_api_key]\n", "anthropic_api_key", "header", "X-Api-Key"},
		{"OAuth token", "project: p\nsecrets:\n  claude_token:\n    disposition: brokered\n    hosts: [api.anthropic.com]\n    env: CLAUDE_CODE_OAUTH_TOKEN\n    auth: bearer\nagents:\n  lead:\n    provider: {type: anthropic, credential: claude_token}\n", "claude_token", "bearer", ""},
		{"OAuth token declared without auth", "project: p\nsecrets:\n  claude_token:\n    disposition: brokered\n    hosts: [api.anthropic.com]\n    env: CLAUDE_CODE_OAUTH_TOKEN\nagents:\n  lead:\n    provider: {type: anthropic, credential: claude_token}\n", "claude_token", "bearer", ""},
		{"OpenAI-compatible key", "project: p\nagents:\n  lead:\n    provider: {type: openai, url: https://llm.example.com/v1}\n", "openai_api_key", "bearer", ""},
		{"explicit auth kept", "project: p\nsecrets:\n  anthropic_api_key:\n    disposition: brokered\n    hosts: [api.anthropic.com]\n    auth: bearer\nagents:\n  lead: {}\n", "anthropic_api_key", "bearer", ""},
		{"other secret untouched", "project: p\nsecrets:\n  gh:\n    disposition: brokered\n    hosts: [api.github.com]\nagents:\n  lead:\n    secrets: [gh]\n", "gh", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(filepath.Join(t.TempDir(), "clem.yaml"), []byte(tt.yaml), func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Secret(tt.secret)
			if s == nil {
				t.Fatalf("no secret %q", tt.secret)
			}
			if auth, header := bindingAuth(cfg, s); auth != tt.auth || header != tt.header {
				t.Errorf("bindingAuth(%s) = %q, %q; want %q, %q", tt.secret, auth, header, tt.auth, tt.header)
			}
		})
	}
}
