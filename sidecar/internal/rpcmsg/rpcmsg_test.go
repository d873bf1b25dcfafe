package rpcmsg

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var cases = []struct {
	name string
	body string
	want []Message // nil: an error
	code int       // the error's code
	msg  string
}{
	{"request", `{"jsonrpc":"2.0","id":1,"method":"ping"}`, []Message{{Kind: Request, Method: "ping", ID: "1"}}, 0, ""},
	{"string id", `{"jsonrpc":"2.0","id":"a\u0062","method":"tools/list"}`, []Message{{Kind: Request, Method: "tools/list", ID: `"ab"`}}, 0, ""},
	{"tool call", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"query","arguments":{"sql":"select 1"}}}`, []Message{{Kind: Request, Method: "tools/call", ID: "7", Tool: "query", ArgsSize: 18}}, 0, ""},
	{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, []Message{{Kind: Notification, Method: "notifications/initialized"}}, 0, ""},
	{"response", `{"jsonrpc":"2.0","id":3,"result":{}}`, []Message{{Kind: Response, ID: "3"}}, 0, ""},
	{"error response null id", `{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"x"}}`, []Message{{Kind: Response, ID: "null"}}, 0, ""},
	{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"}]`, []Message{{Kind: Request, Method: "ping", ID: "1"}, {Kind: Notification, Method: "n"}}, 0, ""},
	{"empty", ``, nil, CodeParse, "empty body"},
	{"not json", `{"jsonrpc":"2.0",`, nil, CodeParse, "not valid JSON"},
	{"empty batch", `[]`, nil, CodeInvalidRequest, "empty batch"},
	{"bad in batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"},3]`, nil, CodeInvalidRequest, "batch[1]"},
	{"scalar", `"hello"`, nil, CodeInvalidRequest, "JSON object"},
	{"no version", `{"id":1,"method":"ping"}`, nil, CodeInvalidRequest, `"jsonrpc" must be "2.0"`},
	{"old version", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, nil, CodeInvalidRequest, `"jsonrpc" must be "2.0"`},
	{"fraction id", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, nil, CodeInvalidRequest, "not an integer"},
	{"exponent id", `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, nil, CodeInvalidRequest, "not an integer"},
	{"huge id", `{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`, nil, CodeInvalidRequest, "beyond"},
	{"object id", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, nil, CodeInvalidRequest, "neither a string nor an integer"},
	{"bool id", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, nil, CodeInvalidRequest, "neither a string nor an integer"},
	{"null request id", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, nil, CodeInvalidRequest, "must not be null"},
	{"empty method", `{"jsonrpc":"2.0","id":1,"method":""}`, nil, CodeInvalidRequest, "method is empty"},
	{"method and result", `{"jsonrpc":"2.0","id":1,"method":"x","result":{}}`, nil, CodeInvalidRequest, "no result or error"},
	{"result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, nil, CodeInvalidRequest, "not both"},
	{"response without id", `{"jsonrpc":"2.0","result":{}}`, nil, CodeInvalidRequest, "needs an id"},
	{"null id result", `{"jsonrpc":"2.0","id":null,"result":{}}`, nil, CodeInvalidRequest, "only an error response"},
	{"nothing", `{"jsonrpc":"2.0","id":1}`, nil, CodeInvalidRequest, "neither a request"},
	{"scalar params", `{"jsonrpc":"2.0","id":1,"method":"x","params":3}`, nil, CodeInvalidRequest, "params must be"},
	{"tool call without name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, nil, CodeInvalidRequest, "params.name"},
	{"tool call string args", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"q","arguments":"x"}}`, nil, CodeInvalidRequest, "must be an object"},
	{"method not a string", `{"jsonrpc":"2.0","id":1,"method":5}`, nil, CodeInvalidRequest, "cannot unmarshal"},
}

func TestParse(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Parse([]byte(tc.body))
			if tc.want == nil {
				var re *Error
				if !errors.As(err, &re) || re.Code != tc.code || !strings.Contains(re.Msg, tc.msg) {
					t.Fatalf("Parse(%q) = %+v, %v; want error %d containing %q", tc.body, b, err, tc.code, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.body, err)
			}
			if len(b.Messages) != len(tc.want) || b.Batch != strings.HasPrefix(tc.body, "[") {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.body, b, tc.want)
			}
			for i, m := range b.Messages {
				if m != tc.want[i] {
					t.Errorf("Parse(%q)[%d] = %+v, want %+v", tc.body, i, m, tc.want[i])
				}
			}
		})
	}
}

// FuzzParse: no input panics; what Parse accepts is framed consistently,
// and a single request's method is the method any JSON reader (mcp-go's
// included) sees in it.
func FuzzParse(f *testing.F) {
	for _, tc := range cases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := Parse(body)
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || (re.Code != CodeParse && re.Code != CodeInvalidRequest) {
				t.Fatalf("Parse error %v is not a framing error", err)
			}
			return
		}
		if len(b.Messages) == 0 || len(b.Messages) > MaxBatch || (!b.Batch && len(b.Messages) != 1) {
			t.Fatalf("Parse = %+v", b)
		}
		for _, m := range b.Messages {
			switch m.Kind {
			case Request:
				if m.Method == "" || m.ID == "" || m.ID == "null" {
					t.Fatalf("request %+v", m)
				}
			case Notification:
				if m.Method == "" || m.ID != "" {
					t.Fatalf("notification %+v", m)
				}
			case Response:
				if m.Method != "" || m.ID == "" {
					t.Fatalf("response %+v", m)
				}
			default:
				t.Fatalf("kind %v", m.Kind)
			}
			if (m.Tool != "") != (m.Method == "tools/call") {
				t.Fatalf("tool %q for method %q", m.Tool, m.Method)
			}
		}
		if !b.Batch {
			var other struct {
				Method string `json:"method"`
			}
			if json.Unmarshal(body, &other) != nil || other.Method != b.Messages[0].Method {
				t.Fatalf("Parse saw method %q, encoding/json %q", b.Messages[0].Method, other.Method)
			}
		}
	})
}
