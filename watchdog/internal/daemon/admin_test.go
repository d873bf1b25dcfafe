package daemon

import (
	"io"
	"net/http"
	"testing"

	clemadmin "github.com/clemhq/clem/shared/admin"
)

// admin sends method path to the admin socket and returns the status and
// body.
func admin(t *testing.T, socket, method, path string) (int, string) {
	t.Helper()
	c := clemadmin.Client(socket)
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://admin"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, socket, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
