// Package taskcmd is `clem task`: add, list, show and comment on tasks
// through coord's unix socket, as root or an operator uid (coord.toml
// socket.operator_uids). coord owns the board, so the CLI never opens the
// store itself: one writer, every change audited, waiting runners woken.
// Only the clem command line imports it.
package taskcmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/clemhq/clem/clem/internal/config"
	"github.com/clemhq/clem/clem/internal/layout"
	"github.com/clemhq/clem/shared/coordapi"
)

// Command returns `clem task`.
func Command() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "clem.yaml", Usage: "the team `FILE` (only its project key is read: it names coord's socket)", EnvVars: []string{"CLEM_FILE"}},
		&cli.StringFlag{Name: "socket", Usage: "coord's unix socket `PATH` (default /run/clem/<project>/coord/coord.sock from clem.yaml)", EnvVars: []string{"CLEM_COORD_SOCKET"}},
	}
	return &cli.Command{
		Name:  "task",
		Usage: "add, list, show and comment on tasks (through coord)",
		Description: `Talks to the running coord over its unix socket; run it as root or as a user
in coord's socket.operator_uids. coord must be running (clem up): it alone
opens the board, so every change is audited and wakes the agents at once.`,
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a task",
				ArgsUsage: `"title"`,
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "body", Usage: "read the task's body from `FILE` (- for stdin)"},
					&cli.StringFlag{Name: "to", Usage: "address the task to `AGENT` (default: any agent)"},
				}, flags...),
				Action: add,
			},
			{
				Name:   "list",
				Usage:  "list tasks",
				Flags:  append([]cli.Flag{&cli.StringFlag{Name: "state", Usage: "only tasks in `STATE` (todo, claimed, in_progress, done, blocked)"}}, flags...),
				Action: list,
			},
			{
				Name:      "show",
				Usage:     "show a task and its comments",
				ArgsUsage: "ID",
				Flags:     flags,
				Action:    show,
			},
			{
				Name:      "comment",
				Usage:     "comment on a task",
				ArgsUsage: `ID "text"`,
				Flags:     flags,
				Action:    comment,
			},
		},
	}
}

// client finds coord's socket: --socket, or the project's, named by
// clem.yaml's project key (the only key it reads: the rest of the file,
// its secrets and prompts, are no business of a task command).
func client(c *cli.Context) (*coordapi.Client, error) {
	if s := c.String("socket"); s != "" {
		return coordapi.NewClient(s), nil
	}
	name, err := config.ProjectName(c.String("file"))
	if err != nil {
		return nil, fmt.Errorf("find coord's socket: %w\n(or pass --socket PATH)", err)
	}
	// The socket's path depends on the project alone, not on its ports.
	p := layout.New(layout.DefaultRoots(""), name, 0)
	return coordapi.NewClient(p.CoordSocket()), nil
}

// args returns the command's n positional arguments. Flags may also come
// after them (clem task add "title" --to dev), which urfave/cli leaves in
// the arguments; they are set here. After "--" everything is positional.
func args(c *cli.Context, n int, usage string) ([]string, error) {
	usageErr := cli.Exit(fmt.Sprintf("usage: clem task %s %s", c.Command.Name, usage), 2)
	var pos []string
	a := c.Args().Slice()
	for i := 0; i < len(a); i++ {
		s := a[i]
		if s == "--" {
			pos = append(pos, a[i+1:]...)
			break
		}
		if !strings.HasPrefix(s, "-") || s == "-" {
			pos = append(pos, s)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(s, "-"), "=")
		if !hasFlag(c.Command, name) {
			return nil, cli.Exit(fmt.Sprintf("clem task %s: unknown flag %s (put text that starts with - after --)", c.Command.Name, s), 2)
		}
		if !hasVal {
			if i+1 >= len(a) {
				return nil, usageErr
			}
			i++
			val = a[i]
		}
		if err := c.Set(name, val); err != nil {
			return nil, fmt.Errorf("clem task %s: %s: %w", c.Command.Name, s, err)
		}
	}
	if len(pos) != n {
		return nil, usageErr
	}
	return pos, nil
}

func hasFlag(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func add(c *cli.Context) error {
	a, err := args(c, 1, `"title" [--body FILE] [--to AGENT]`)
	if err != nil {
		return err
	}
	req := coordapi.AddTaskRequest{Title: a[0], To: c.String("to")}
	if f := c.String("body"); f != "" {
		var data []byte
		if f == "-" {
			data, err = io.ReadAll(io.LimitReader(c.App.Reader, coordapi.MaxText+1))
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return fmt.Errorf("task body: %w", err)
		}
		req.Body = string(data)
	}
	if err := req.Validate(); err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	r, err := cl.AddTask(c.Context, req)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(c.App.Writer, "task %s added\n", r.Task.ID)
	return nil
}

func list(c *cli.Context) error {
	if _, err := args(c, 0, "[--state STATE]"); err != nil {
		return err
	}
	var st coordapi.State
	if s := c.String("state"); s != "" {
		var err error
		if st, err = coordapi.ParseState(s); err != nil {
			return err
		}
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	ts, err := cl.Tasks(c.Context, st)
	if err != nil {
		return explain(err)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTO\tHOLDER\tTITLE")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", clean(t.ID), t.State, orDash(t.To), orDash(t.Holder), clean(t.Title))
	}
	return tw.Flush()
}

func show(c *cli.Context) error {
	a, err := args(c, 1, "ID")
	if err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	t, err := cl.Task(c.Context, a[0])
	if err != nil {
		return explain(err)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "task %s: %s\n", clean(t.ID), clean(t.Title))
	fmt.Fprintf(w, "state:   %s\n", t.State)
	fmt.Fprintf(w, "to:      %s\n", orDash(t.To))
	if t.Holder != "" {
		fmt.Fprintf(w, "holder:  %s (lease until %s)\n", t.Holder, t.LeaseUntil.Local().Format(time.DateTime))
	}
	fmt.Fprintf(w, "author:  %s %s\n", t.Author.Kind, clean(t.Author.Name))
	fmt.Fprintf(w, "created: %s\n", t.Created.Local().Format(time.DateTime))
	if t.URL != "" {
		fmt.Fprintf(w, "url:     %s\n", clean(t.URL))
	}
	if t.Body != "" {
		fmt.Fprintf(w, "\n%s\n", cleanText(t.Body))
	}
	for _, cm := range t.Comments {
		fmt.Fprintf(w, "\n-- %s %s, %s:\n%s\n", cm.Author.Kind, clean(cm.Author.Name), cm.Created.Local().Format(time.DateTime), cleanText(cm.Body))
	}
	return nil
}

func comment(c *cli.Context) error {
	a, err := args(c, 2, `ID "text"`)
	if err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	r, err := cl.Comment(c.Context, a[0], a[1])
	if err != nil {
		return explain(err)
	}
	if r.Queued {
		fmt.Fprintf(c.App.Writer, "comment on task %s queued: the board is unavailable, coord sends it later\n", a[0])
		return nil
	}
	fmt.Fprintf(c.App.Writer, "commented on task %s\n", a[0])
	return nil
}

// explain adds what to do to the errors an operator meets.
func explain(err error) error {
	var se *coordapi.StatusError
	switch {
	case errors.As(err, &se) && se.Status == 403:
		return fmt.Errorf("%w\nrun clem task as root or as a user listed in coord's socket.operator_uids", err)
	case errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "connect: no such file") || strings.Contains(err.Error(), "connection refused"):
		return fmt.Errorf("%w\nis coord running? start the fleet with clem up, or pass --socket", err)
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return clean(s)
}

// clean keeps a one-line field from moving the terminal: text from a
// remote board is written by anyone.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// cleanText is clean for multi-line text: newlines and tabs stay.
func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
