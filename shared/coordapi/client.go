package coordapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client calls coord's unix socket.
type Client struct {
	Socket string
	hc     *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	d := net.Dialer{Timeout: 5 * time.Second}
	return &Client{Socket: path, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 2,
	}}}
}

// StatusError is a non-2xx answer from coord.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("coord: %s (HTTP %d)", e.Message, e.Status)
}

// IsStatus reports whether err is coord answering with status code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == code
}

// do sends method path with body in (nil for none) and decodes the answer
// into out (nil to discard). It returns the HTTP status.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://coord"+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("coord at %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("coord at %s: read answer: %w", c.Socket, err)
	}
	if resp.StatusCode >= 300 {
		var e ErrorResponse
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return resp.StatusCode, &StatusError{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("coord at %s: answer to %s %s: %w", c.Socket, method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Health checks that coord answers and knows the caller.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/v1/healthz", nil, nil)
	return err
}

// Inbox returns the calling agent's pending items without consuming them.
func (c *Client) Inbox(ctx context.Context) (InboxResponse, error) {
	var r InboxResponse
	_, err := c.do(ctx, http.MethodGet, "/v1/inbox", nil, &r)
	return r, err
}

// Ack consumes the calling agent's inbox through cursor.
func (c *Client) Ack(ctx context.Context, cursor string) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/inbox/ack", AckRequest{Cursor: cursor}, nil)
	return err
}

// Wait blocks until the calling agent's inbox is not empty (true) or
// timeout passes (false).
func (c *Client) Wait(ctx context.Context, timeout time.Duration) (bool, error) {
	secs := max(int(timeout/time.Second), 1)
	code, err := c.do(ctx, http.MethodGet, "/v1/wait?timeout="+strconv.Itoa(secs)+"s", nil, nil)
	return code == http.StatusOK, err
}

// Heartbeat renews the leases the calling agent holds.
func (c *Client) Heartbeat(ctx context.Context) (HeartbeatResponse, error) {
	var r HeartbeatResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/heartbeat", nil, &r)
	return r, err
}

// Alert raises an alert (watchdog, operator).
func (c *Client) Alert(ctx context.Context, a AlertRequest) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/alert", a, nil)
	return err
}

// AddTask creates a task (operator).
func (c *Client) AddTask(ctx context.Context, r AddTaskRequest) (TaskResponse, error) {
	var out TaskResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/tasks", r, &out)
	return out, err
}

// Tasks lists tasks, in state if it is not empty (operator).
func (c *Client) Tasks(ctx context.Context, state State) ([]Task, error) {
	var out []Task
	path := "/v1/tasks"
	if state != "" {
		path += "?state=" + url.QueryEscape(string(state))
	}
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

// Task returns one task with its comments (operator).
func (c *Client) Task(ctx context.Context, id string) (Task, error) {
	var out Task
	_, err := c.do(ctx, http.MethodGet, "/v1/tasks/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Comment comments on a task (operator).
func (c *Client) Comment(ctx context.Context, id, body string) (TaskResponse, error) {
	var out TaskResponse
	_, err := c.do(ctx, http.MethodPost, "/v1/tasks/"+url.PathEscape(id)+"/comments", CommentRequest{Body: body}, &out)
	return out, err
}

// Post sends a message to agent to, or to all when to is empty (operator).
func (c *Client) Post(ctx context.Context, to, body string) error {
	_, err := c.do(ctx, http.MethodPost, "/v1/messages", PostRequest{To: to, Body: body}, nil)
	return err
}

// Alerts lists recent alerts (operator, local board).
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	var out []Alert
	_, err := c.do(ctx, http.MethodGet, "/v1/alerts", nil, &out)
	return out, err
}
