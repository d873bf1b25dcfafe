package coordapi

import (
	"strings"
	"testing"
)

var decodeCases = []struct {
	name, body string
	ok         bool
}{
	{"task", `{"title":"fix the build","body":"see CI","to":"dev"}`, true},
	{"task any", `{"title":"fix"}`, true},
	{"no title", `{"body":"x"}`, false},
	{"two lines", `{"title":"a\nb"}`, false},
	{"bad to", `{"title":"a","to":"Dev Ops"}`, false},
	{"unknown field", `{"title":"a","holder":"dev"}`, false},
	{"trailing", `{"title":"a"}{"title":"b"}`, false},
	{"not json", `title=a`, false},
	{"long title", `{"title":"` + strings.Repeat("x", MaxTitle+1) + `"}`, false},
	{"huge", `{"title":"a","body":"` + strings.Repeat("x", MaxBody) + `"}`, false},
	{"bad utf8", "{\"title\":\"\xff\"}", false},
}

func TestDecodeAddTask(t *testing.T) {
	for _, tc := range decodeCases {
		_, err := Decode[AddTaskRequest](strings.NewReader(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("Decode[AddTaskRequest](%s) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestDecodeAlert(t *testing.T) {
	a, err := Decode[AlertRequest](strings.NewReader(`{"subject":"lead","body":"down"}`))
	if err != nil || a.Severity != Warning {
		t.Fatalf("Decode[AlertRequest] = %+v, %v; want severity defaulted to warning", a, err)
	}
	if _, err := Decode[AlertRequest](strings.NewReader(`{"subject":"lead","severity":"doom"}`)); err == nil {
		t.Error("Decode[AlertRequest] accepted severity doom")
	}
	if _, err := Decode[CommentRequest](strings.NewReader(`{"body":""}`)); err == nil {
		t.Error("Decode[CommentRequest] accepted an empty body")
	}
	if _, err := Decode[PostRequest](strings.NewReader(`{"to":"../x","body":"hi"}`)); err == nil {
		t.Error("Decode[PostRequest] accepted to ../x")
	}
}

// FuzzDecode: no request body makes decoding panic, and whatever is
// accepted satisfies the limits.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		if len(tc.body) < 1000 {
			f.Add(tc.body)
		}
	}
	f.Add(`{"subject":"s","severity":"critical","body":"b"}`)
	f.Add(`{"cursor":"12"}`)
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := Decode[AddTaskRequest](strings.NewReader(s)); err == nil {
			if r.Title == "" || len(r.Title) > MaxTitle || strings.ContainsAny(r.Title, "\r\n") || (r.To != "" && !ValidAgentKey(r.To)) {
				t.Fatalf("accepted %+v", r)
			}
		}
		if r, err := Decode[AlertRequest](strings.NewReader(s)); err == nil {
			if _, err := ParseSeverity(string(r.Severity)); err != nil || r.Severity == "" || r.Subject == "" {
				t.Fatalf("accepted %+v", r)
			}
		}
		if r, err := Decode[CommentRequest](strings.NewReader(s)); err == nil && (r.Body == "" || len(r.Body) > MaxText) {
			t.Fatalf("accepted %+v", r)
		}
		if r, err := Decode[PostRequest](strings.NewReader(s)); err == nil && (r.Body == "" || (r.To != "" && !ValidAgentKey(r.To))) {
			t.Fatalf("accepted %+v", r)
		}
		Decode[AckRequest](strings.NewReader(s))
	})
}

// TestAlertClip: a long alert, cut inside a multi-byte character, still
// validates after Clip.
func TestAlertClip(t *testing.T) {
	r := AlertRequest{Severity: Critical, Subject: strings.Repeat("ü", MaxTitle), Body: strings.Repeat("ß", MaxText)}
	r.Clip()
	if err := r.Validate(); err != nil {
		t.Errorf("a clipped alert does not validate: %v", err)
	}
	if !strings.HasSuffix(r.Body, "...") || len(r.Subject) > MaxTitle {
		t.Errorf("Clip: subject %d bytes, body ends %q", len(r.Subject), r.Body[len(r.Body)-5:])
	}
}
