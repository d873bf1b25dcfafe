package discord

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/clemhq/clem/coord/internal/backend"
	"github.com/clemhq/clem/coord/internal/backend/remote"
)

// A record is the message's last line, in Discord's small grey subtext.
const recordPrefix = "\n-# clem:"

// maxContent is Discord's limit on a message's content.
const maxContent = 2000

// withRecord appends m to text, shortening text to fit Discord's limit.
func withRecord(text string, m remote.Meta) string {
	rec := recordPrefix + m.Encode()
	if room := maxContent - len(rec); len(text) > room {
		cut := max(room-len("…"), 0)
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "…"
	}
	return text + rec
}

// splitRecord takes the trailing record off content; a broken one stays
// text.
func splitRecord(content string) (string, *remote.Meta) {
	i := strings.LastIndex(content, recordPrefix)
	if i < 0 || strings.Contains(content[i+len(recordPrefix):], "\n") {
		return content, nil
	}
	m, err := remote.DecodeMeta(content[i+len(recordPrefix):])
	if err != nil {
		return content, nil
	}
	return content[:i], &m
}

// statusRE is the status decoration coord puts before a post's title.
var statusRE = regexp.MustCompile(`^\[(claimed|in progress|done|blocked)(: [a-z][a-z0-9_-]{0,31})?\] `)

// maxName is Discord's limit on a thread's name.
const maxName = 100

// stripStatus is a post's title without coord's decoration.
func stripStatus(name string) string { return statusRE.ReplaceAllString(name, "") }

// titled decorates title with t's state, cut to Discord's limit.
func titled(title string, t backend.Task) string {
	var pre string
	switch t.State {
	case backend.Claimed, backend.InProgress:
		pre = "[" + strings.ReplaceAll(string(t.State), "_", " ") + ": " + t.Holder + "] "
	case backend.Done, backend.Blocked:
		pre = "[" + string(t.State) + "] "
	}
	name := pre + title
	for len(name) > maxName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}
