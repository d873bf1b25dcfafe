package termrelay

import (
	"io"
	"strconv"

	"github.com/charmbracelet/x/ansi"
)

// Filter passes what a program writes to a terminal on to w, keeping only
// what draws a screen: printable text, a few C0 controls, and the cursor,
// erase, scroll, colour and mode sequences that tmux and claude use to draw.
// Everything else is dropped: OSC (clipboard, titles, colour queries,
// hyperlinks), DCS (DECRQSS, XTGETTCAP, tmux passthrough), APC/PM/SOS, ENQ
// (answerback), C1 controls, and every CSI or ESC sequence that makes the
// terminal answer (DA, DSR/CPR, DECRQM, XTVERSION, window reports).
//
// A VT parser (charmbracelet/x/ansi) reads the bytes, and what is kept is
// written anew from what the parser understood, never copied: a sequence the
// parser misreads is at worst dropped or shown as text, it cannot reach the
// terminal as a different control. Sequences split across writes are held
// until complete. A Filter is not safe for concurrent use.
type Filter struct {
	w   io.Writer
	p   *ansi.Parser
	out []byte
	alt bool // the program switched to the alternate screen
}

// NewFilter returns a Filter that writes what it keeps to w.
func NewFilter(w io.Writer) *Filter {
	f := &Filter{w: w, p: ansi.NewParser()}
	// String sequences (OSC, DCS...) are all dropped: keep none of their data.
	f.p.SetDataSize(1)
	f.p.SetHandler(ansi.Handler{
		Print:     f.print,
		Execute:   f.execute,
		HandleCsi: f.csi,
		HandleEsc: f.esc,
	})
	return f
}

// Write filters p and writes what is kept; it reports len(p) unless w fails.
func (f *Filter) Write(p []byte) (int, error) {
	f.out = f.out[:0]
	for _, b := range p {
		f.p.Advance(b)
	}
	if len(f.out) == 0 {
		return len(p), nil
	}
	if _, err := f.w.Write(f.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (f *Filter) print(r rune) {
	// C0, DEL and C1 code points: a terminal in UTF-8 mode may act on
	// U+0080..U+009F (U+009B as CSI), so they never pass as text.
	if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
		return
	}
	f.out = append(f.out, string(r)...)
}

// keptC0 are the C0 controls a screen needs. Not ENQ (the terminal answers
// it), not ESC on its own, not NUL or the rest.
var keptC0 = [0x20]bool{
	'\a': true, '\b': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true,
	0x0e: true, 0x0f: true, // SO, SI: the line-drawing character set
}

func (f *Filter) execute(b byte) {
	if b < 0x20 && keptC0[b] {
		f.out = append(f.out, b)
	}
}

// keptEsc are the ESC sequences kept, by intermediate and final byte.
var keptEsc = map[[2]byte]bool{
	{0, '7'}: true, {0, '8'}: true, // DECSC, DECRC
	{0, '='}: true, {0, '>'}: true, // keypad modes
	{0, 'D'}: true, {0, 'E'}: true, {0, 'H'}: true, {0, 'M'}: true, // IND, NEL, HTS, RI
	{0, 'c'}: true, // RIS
	// Character set designation, G0..G3: ASCII, line drawing, UK, default.
	{'(', 'B'}: true, {'(', '0'}: true, {'(', 'A'}: true, {'(', 'U'}: true,
	{')', 'B'}: true, {')', '0'}: true, {')', 'A'}: true, {')', 'U'}: true,
	{'*', 'B'}: true, {'*', '0'}: true, {'+', 'B'}: true, {'+', '0'}: true,
}

func (f *Filter) esc(cmd ansi.Cmd) {
	if !keptEsc[[2]byte{cmd.Intermediate(), cmd.Final()}] {
		return
	}
	f.out = append(f.out, 0x1b)
	if i := cmd.Intermediate(); i != 0 {
		f.out = append(f.out, i)
	}
	f.out = append(f.out, cmd.Final())
}

// csiKind says how a kept CSI sequence's parameters are judged.
type csiKind int

const (
	csiAny       csiKind = iota + 1 // any numeric parameters
	csiAtMost1                      // at most one parameter (CSI Ps T; more is mouse tracking)
	csiDECModes                     // DEC private modes: only those in keptDECModes
	csiANSIModes                    // ANSI modes: only those in keptANSIModes
)

// keptCSI are the CSI sequences kept, by prefix, intermediate and final
// byte. None of them makes a terminal send anything back.
var keptCSI = map[[3]byte]csiKind{
	{0, 0, '@'}: csiAny, {0, 0, 'A'}: csiAny, {0, 0, 'B'}: csiAny, {0, 0, 'C'}: csiAny, // ICH, CUU, CUD, CUF
	{0, 0, 'D'}: csiAny, {0, 0, 'E'}: csiAny, {0, 0, 'F'}: csiAny, {0, 0, 'G'}: csiAny, // CUB, CNL, CPL, CHA
	{0, 0, 'H'}: csiAny, {0, 0, 'I'}: csiAny, {0, 0, 'J'}: csiAny, {0, 0, 'K'}: csiAny, // CUP, CHT, ED, EL
	{0, 0, 'L'}: csiAny, {0, 0, 'M'}: csiAny, {0, 0, 'P'}: csiAny, {0, 0, 'S'}: csiAny, // IL, DL, DCH, SU
	{0, 0, 'T'}: csiAtMost1, {0, 0, 'X'}: csiAny, {0, 0, 'Z'}: csiAny, {0, 0, '`'}: csiAny, // SD, ECH, CBT, HPA
	{0, 0, 'a'}: csiAny, {0, 0, 'b'}: csiAny, {0, 0, 'd'}: csiAny, {0, 0, 'e'}: csiAny, // HPR, REP, VPA, VPR
	{0, 0, 'f'}: csiAny, {0, 0, 'g'}: csiAny, {0, 0, 'm'}: csiAny, {0, 0, 'r'}: csiAny, // HVP, TBC, SGR, DECSTBM
	{0, 0, 's'}: csiAny, {0, 0, 'u'}: csiAny, // save, restore cursor
	{0, 0, 'h'}: csiANSIModes, {0, 0, 'l'}: csiANSIModes,
	{'?', 0, 'h'}: csiDECModes, {'?', 0, 'l'}: csiDECModes,
	{'?', 0, 'J'}: csiAny, {'?', 0, 'K'}: csiAny, // DECSED, DECSEL
	{'>', 0, 'm'}: csiAny,     // XTMODKEYS (tmux asks for extended keys)
	{0, ' ', 'q'}: csiAtMost1, // DECSCUSR, cursor shape
	{0, '!', 'p'}: csiAny,     // DECSTR, soft reset
}

// keptDECModes are the DEC private modes a program may set or reset. Not
// mouse or focus reporting (the terminal would send events), not DECCOLM
// (resizes the window), not the colour-scheme or other report modes.
var keptDECModes = map[int]bool{
	1: true, 5: true, 6: true, 7: true, 12: true, 25: true, // cursor keys, reverse video, origin, wrap, blink, visible
	47: true, 1047: true, 1048: true, 1049: true, // alternate screen, saved cursor
	2004: true, 2026: true, // bracketed paste, synchronized output
}

// keptANSIModes: insert mode only.
var keptANSIModes = map[int]bool{4: true}

// maxParam bounds a kept parameter; a larger one is dropped with its sequence.
const maxParam = 65535

func (f *Filter) csi(cmd ansi.Cmd, params ansi.Params) {
	kind := keptCSI[[3]byte{cmd.Prefix(), cmd.Intermediate(), cmd.Final()}]
	switch kind {
	case 0:
		return
	case csiAtMost1:
		if len(params) > 1 {
			return
		}
	case csiDECModes, csiANSIModes:
		kept := keptDECModes
		if kind == csiANSIModes {
			kept = keptANSIModes
		}
		var modes ansi.Params
		for _, p := range params {
			if kept[p.Param(-1)] && !p.HasMore() {
				modes = append(modes, p)
			}
		}
		if len(modes) == 0 {
			return
		}
		params = modes
		if kind == csiDECModes {
			for _, p := range modes {
				if m := p.Param(-1); m == 47 || m == 1047 || m == 1049 {
					f.alt = cmd.Final() == 'h'
				}
			}
		}
	}
	for _, p := range params {
		if p.Param(-1) > maxParam {
			return
		}
	}
	f.out = append(f.out, 0x1b, '[')
	if pre := cmd.Prefix(); pre != 0 {
		f.out = append(f.out, pre)
	}
	for i, p := range params {
		if v := p.Param(-1); v >= 0 {
			f.out = strconv.AppendInt(f.out, int64(v), 10)
		}
		if i < len(params)-1 {
			sep := byte(';')
			if p.HasMore() {
				sep = ':'
			}
			f.out = append(f.out, sep)
		}
	}
	if i := cmd.Intermediate(); i != 0 {
		f.out = append(f.out, i)
	}
	f.out = append(f.out, cmd.Final())
}

// Reset returns what puts the operator's terminal back in its usual state
// after the program, which may have been killed before it could: default
// colours, cursor shown, bracketed paste off, normal keypad, and the main
// screen if the program left it.
func (f *Filter) Reset() []byte {
	s := "\x1b[0m\x1b[?25h\x1b[?2004l\x1b[?1l\x1b>"
	if f.alt {
		s += "\x1b[?1049l"
	}
	return []byte(s + "\r\n")
}
