package termrelay

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var filterCases = []struct {
	name, in, want string
}{
	{"text", "hello, wörld ✓\r\n", "hello, wörld ✓\r\n"},
	{"colours", "\x1b[0;1;38;5;196mred\x1b[m", "\x1b[0;1;38;5;196mred\x1b[m"},
	{"truecolour subparameters", "\x1b[38:2::10:20:30m\x1b[4:3m", "\x1b[38:2::10:20:30m\x1b[4:3m"},
	{"cursor and erase", "\x1b[H\x1b[2J\x1b[10;20H\x1b[K\x1b[3A\x1b[?25l\x1b[?25h", "\x1b[H\x1b[2J\x1b[10;20H\x1b[K\x1b[3A\x1b[?25l\x1b[?25h"},
	{"alternate screen and scroll region", "\x1b[?1049h\x1b[1;24r\x1b7\x1b8\x1b[?1049l", "\x1b[?1049h\x1b[1;24r\x1b7\x1b8\x1b[?1049l"},
	{"line drawing", "\x1b(0qqq\x1b(B\x0e\x0f", "\x1b(0qqq\x1b(B\x0e\x0f"},
	{"cursor shape", "\x1b[2 q", "\x1b[2 q"},
	{"extended keys", "\x1b[>4;1m", "\x1b[>4;1m"},
	{"bell", "\a", "\a"},

	{"OSC 52 clipboard write, BEL", "a\x1b]52;c;cHduZWQ=\ab", "ab"},
	{"OSC 52 clipboard write, ST", "a\x1b]52;c;cHduZWQ=\x1b\\b", "ab"},
	{"OSC 52 clipboard read", "\x1b]52;c;?\a", ""},
	{"OSC 52 in 8-bit C1", "a\x9d52;c;cHduZWQ=\x9cb", "ab"},
	{"set title", "\x1b]0;rm -rf ~\a\x1b]2;x\x1b\\", ""},
	{"colour queries", "\x1b]10;?\a\x1b]11;?\a\x1b]4;1;?\a\x1b]12;?\a", ""},
	{"hyperlink", "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", "click"},
	{"DA1", "\x1b[c\x1b[0c", ""},
	{"DA2 and DA3", "\x1b[>c\x1b[=c", ""},
	{"DSR and CPR", "\x1b[5n\x1b[6n\x1b[?6n", ""},
	{"DECRQM", "\x1b[?2004$p\x1b[4$p", ""},
	{"DECRQSS", "\x1bP$qm\x1b\\", ""},
	{"XTGETTCAP", "\x1bP+q544e\x1b\\", ""},
	{"XTVERSION", "\x1b[>q\x1b[>0q", ""},
	{"window reports and moves", "\x1b[21t\x1b[14t\x1b[18t\x1b[3;0;0t\x1b[9;1t", ""},
	{"title modes", "\x1b[>3t\x1b[>2T", ""},
	{"DECID", "\x1bZ", ""},
	{"ENQ answerback", "a\x05b", "ab"},
	{"tmux passthrough", "\x1bPtmux;\x1b\x1b]52;c;cHduZWQ=\a\x1b\\ok", "ok"},
	{"APC PM SOS", "\x1b_Gf=100;AAAA\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\", ""},
	{"kitty keyboard query", "\x1b[?u\x1b[>1u\x1b[<u", ""},
	{"mouse and focus reporting", "\x1b[?1000h\x1b[?1006h\x1b[?1004h\x1b[?9h", ""},
	{"mouse highlight tracking", "\x1b[1;2;3;4;5T", ""},
	{"mixed modes keep only the safe ones", "\x1b[?1000;25;1004;2004h", "\x1b[?25;2004h"},
	{"DECCOLM resize", "\x1b[?3h", ""},
	{"send/receive mode", "\x1b[12l", ""},
	{"printer", "\x1b[5i\x1b[?5i", ""},
	{"8-bit CSI DA", "a\x9bcb", "ab"},
	{"C1 as UTF-8 code point", "a\u009bcb\u0085", "acb"},
	{"8-bit CSI cursor kept as 7-bit", "\x9b2J", "\x1b[2J"},
	{"NUL DEL and stray ESC", "a\x00\x7fb\x1b\x1bq", "ab"},
	{"invalid UTF-8 does not hide an escape", "\xc3\x1b]52;c;x\a", "\uFFFD]52;c;x\a"},
	{"huge parameter", "\x1b[99999999A", ""},
}

func TestFilter(t *testing.T) {
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := NewFilter(&out)
			if n, err := f.Write([]byte(tc.in)); n != len(tc.in) || err != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(tc.in))
			}
			if got := out.String(); got != tc.want {
				t.Errorf("Filter(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestFilterSplit: a sequence cut across writes (as reads from a pty cut
// it) is judged whole: the dropped stays dropped, the kept is kept.
func TestFilterSplit(t *testing.T) {
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := NewFilter(&out)
			for i := range len(tc.in) {
				f.Write([]byte{tc.in[i]})
			}
			if got := out.String(); got != tc.want {
				t.Errorf("Filter(%q) byte by byte = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// csiReply matches CSI sequences that make a terminal answer: DA, DSR,
// DECRQM ($p), XTVERSION (>q), window ops (t).
var csiReply = regexp.MustCompile(`\x1b\[[<=>?]?[0-9;:]*(\$?p|[cnt]|>q)`)

// FuzzFilter: whatever goes in, what comes out holds no string sequence
// introducer, no query, no C1 control, and filtering it again changes
// nothing (it is made only of what the filter keeps).
func FuzzFilter(f *testing.F) {
	for _, tc := range filterCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		NewFilter(&out).Write(in)
		got := out.String()
		for _, bad := range []string{"\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\x1bZ", "\x05", "\x1b[c", "\x1b[>c", "\x1b[6n", "\x1b[5n"} {
			if strings.Contains(got, bad) {
				t.Fatalf("Filter(%q) = %q: holds %q", in, got, bad)
			}
		}
		if m := csiReply.FindString(got); m != "" {
			t.Fatalf("Filter(%q) = %q: holds %q", in, got, m)
		}
		for _, r := range got {
			if r >= 0x80 && r <= 0x9f {
				t.Fatalf("Filter(%q) = %q: holds C1 %U", in, got, r)
			}
		}
		var again bytes.Buffer
		NewFilter(&again).Write(out.Bytes())
		if again.String() != got {
			t.Fatalf("Filter is not stable on %q: %q then %q", in, got, again.String())
		}
	})
}
