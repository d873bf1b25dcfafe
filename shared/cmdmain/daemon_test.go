package cmdmain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestRunAndCheckCommands(t *testing.T) {
	flag := &cli.StringFlag{Name: "config", Aliases: []string{"c"}}
	var gotPath string
	var logs bytes.Buffer
	run := RunCommand("serve", flag, &logs, func(ctx context.Context, path string, log *slog.Logger) error {
		gotPath = path
		log.Info("started")
		return nil
	})
	check := CheckCommand("validate", flag, func(path string) (*string, error) {
		if strings.Contains(path, "bad") {
			return nil, errors.New(path + ":3: unknown key")
		}
		s := "cfg from " + path
		return &s, nil
	}, func(w io.Writer, path string, cfg *string) { fmt.Fprintf(w, "ok: %s\n", *cfg) })
	var out bytes.Buffer
	app := &cli.App{Name: "d", Commands: []*cli.Command{run, check}, Writer: &out, ErrWriter: io.Discard}
	if code := Run(app, []string{"d", "run", "-c", "/etc/d.toml"}, io.Discard); code != 0 || gotPath != "/etc/d.toml" || !strings.Contains(logs.String(), `"msg":"started"`) {
		t.Errorf("run: exit %d, path %q, logs %q", code, gotPath, logs.String())
	}
	if code := Run(app, []string{"d", "check", "-c", "/etc/d.toml"}, io.Discard); code != 0 || out.String() != "ok: cfg from /etc/d.toml\n" {
		t.Errorf("check: exit %d, output %q", code, out.String())
	}
	var errb bytes.Buffer
	if code := Run(app, []string{"d", "check", "-c", "bad.toml"}, &errb); code == 0 || !strings.Contains(errb.String(), "bad.toml:3: unknown key") {
		t.Errorf("check of a bad file: exit %d, stderr %q", code, errb.String())
	}
}
