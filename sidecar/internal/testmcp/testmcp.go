// Package testmcp is a small MCP server that sidecar's tests run as a real
// child (over stdio) or as a real upstream (over Streamable HTTP). Its tools
// report what a child can see: its environment, its uid and pid, files in
// its directory, a per-process counter; one crashes the process. Only
// sidecar's tests import it; the sidecar binary never links it.
package testmcp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// New returns the server with every test tool registered.
func New() *server.MCPServer {
	s := server.NewMCPServer("testmcp", "1.0.0", server.WithToolCapabilities(false))
	var count atomic.Int64
	s.AddTool(mcp.NewTool("echo", mcp.WithDescription("returns text"), mcp.WithString("text", mcp.Required())),
		func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(r.GetString("text", "")), nil
		})
	s.AddTool(mcp.NewTool("env", mcp.WithDescription("returns the process environment, one VAR=value a line, sorted")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			env := os.Environ()
			slices.Sort(env)
			return mcp.NewToolResultText(strings.Join(env, "\n")), nil
		})
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("returns pid, uid and working directory as JSON")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			wd, _ := os.Getwd()
			b, _ := json.Marshal(Who{PID: os.Getpid(), UID: os.Getuid(), Dir: wd})
			return mcp.NewToolResultText(string(b)), nil
		})
	s.AddTool(mcp.NewTool("count", mcp.WithDescription("adds one to this process's counter and returns it")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(fmt.Sprint(count.Add(1))), nil
		})
	s.AddTool(mcp.NewTool("read", mcp.WithDescription("returns a file's contents"), mcp.WithString("file", mcp.Required())),
		func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			b, err := os.ReadFile(r.GetString("file", ""))
			if err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			return mcp.NewToolResultText(string(b)), nil
		})
	s.AddTool(mcp.NewTool("sha256", mcp.WithDescription("returns the hex SHA-256 of an environment variable's value, or of a file's contents"),
		mcp.WithString("env"), mcp.WithString("file")),
		func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			v, ok := []byte(nil), false
			if name := r.GetString("env", ""); name != "" {
				var sv string
				sv, ok = os.LookupEnv(name)
				v = []byte(sv)
			} else if f := r.GetString("file", ""); f != "" {
				var err error
				v, err = os.ReadFile(f)
				ok = err == nil
			}
			if !ok {
				return mcp.NewToolResultError("no such variable or file"), nil
			}
			sum := sha256.Sum256(v)
			return mcp.NewToolResultText(hex.EncodeToString(sum[:])), nil
		})
	s.AddTool(mcp.NewTool("leak", mcp.WithDescription("quotes an environment variable's value in many encodings (the scrubber's test)"),
		mcp.WithString("env", mcp.Required())),
		func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			v := os.Getenv(r.GetString("env", ""))
			j, _ := json.Marshal(map[string]string{"password": v})
			text := strings.Join([]string{
				"plain=" + v,
				"b64=" + base64.StdEncoding.EncodeToString([]byte(v)),
				"b64url=" + base64.RawURLEncoding.EncodeToString([]byte(v)),
				"hex=" + hex.EncodeToString([]byte(v)),
				"url=" + url.QueryEscape(v),
				"json=" + string(j),
				"basic=" + base64.StdEncoding.EncodeToString([]byte("user:"+v)),
			}, "\n")
			return mcp.NewToolResultError("cannot connect to postgres://app:" + v + "@db/app: " + text), nil
		})
	s.AddTool(mcp.NewTool("fail", mcp.WithDescription("returns a tool error")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError("failed as asked"), nil
		})
	s.AddTool(mcp.NewTool("block", mcp.WithDescription("writes a line to the FIFO started, then waits until the FIFO release is opened and closed by someone else (a call that is in flight as long as the test wants)"),
		mcp.WithString("started", mcp.Required()), mcp.WithString("release", mcp.Required())),
		func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if err := os.WriteFile(r.GetString("started", ""), []byte("started\n"), 0); err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			if _, err := os.ReadFile(r.GetString("release", "")); err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			return mcp.NewToolResultText("released"), nil
		})
	s.AddTool(mcp.NewTool("crash", mcp.WithDescription("exits the process without answering")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			fmt.Fprintln(os.Stderr, "testmcp: crashing as asked")
			os.Exit(3)
			return nil, nil
		})
	return s
}

// Who is what the whoami tool reports.
type Who struct {
	PID int    `json:"pid"`
	UID int    `json:"uid"`
	Dir string `json:"dir"`
}

// ServeStdio serves New over stdin and stdout until stdin closes.
func ServeStdio() int {
	fmt.Fprintln(os.Stderr, "testmcp: serving on stdio")
	if err := server.NewStdioServer(New()).Listen(context.Background(), os.Stdin, os.Stdout); err != nil && err != context.Canceled {
		fmt.Fprintln(os.Stderr, "testmcp:", err)
		return 1
	}
	return 0
}
