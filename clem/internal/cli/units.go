package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/units"
)

// unitRenderer loads the unit templates (--templates, or found beside
// this clem) and returns their renderer.
func unitRenderer(c *cli.Context) (func(units.Data) (map[string][]byte, error), error) {
	dir := c.String("templates")
	if dir == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		if dir, err = units.FindTemplates(exe); err != nil {
			return nil, err
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("unit templates: %w", err)
	}
	if err := rootOnly(dir, st); err != nil {
		return nil, err
	}
	tmpls, _ := filepath.Glob(filepath.Join(dir, "*.tmpl"))
	for _, t := range tmpls {
		if st, err := os.Stat(t); err != nil {
			return nil, err
		} else if err := rootOnly(t, st); err != nil {
			return nil, err
		}
	}
	set, err := units.Load(dir)
	if err != nil {
		return nil, err
	}
	return set.Render, nil
}
