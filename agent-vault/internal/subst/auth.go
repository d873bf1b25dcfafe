package subst

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// applyAuth presents the secret the way the binding's Auth says, whatever
// header the agent put its placeholder in: the agent says which credential
// and that it means to use it; the binding alone says how it is sent. The
// values that carried the placeholder are removed, so it goes nowhere else.
func applyAuth(hd http.Header, b *binding, hits []headerHit, sec []byte) {
	target, value := "Authorization", ""
	switch b.auth {
	case AuthBearer:
		value = "Bearer " + string(sec)
	case AuthBasic:
		value = "Basic " + basicValue(b.basicUser, sec)
	case AuthNamedHeader:
		target, value = b.authHeader, string(sec)
	}
	drop := map[string][]bool{}
	for _, hh := range hits {
		if drop[hh.name] == nil {
			drop[hh.name] = make([]bool, len(hd[hh.name]))
		}
		drop[hh.name][hh.index] = true
	}
	for name, gone := range drop {
		var keep []string
		for i, v := range hd[name] {
			if !gone[i] {
				keep = append(keep, v)
			}
		}
		if len(keep) == 0 {
			delete(hd, name)
		} else {
			hd[name] = keep
		}
	}
	for name := range hd { // a non-canonical duplicate would be sent as a second value
		if strings.EqualFold(name, target) {
			delete(hd, name)
		}
	}
	hd[target] = []string{value}
}

func basicValue(user string, sec []byte) string {
	creds := make([]byte, 0, len(user)+1+len(sec))
	creds = append(append(append(creds, user...), ':'), sec...)
	return base64.StdEncoding.EncodeToString(creds)
}

// substHeaders puts the secret where each placeholder stands, re-encoding
// Basic credentials it was found in.
func substHeaders(hd http.Header, hits []headerHit, sec []byte) {
	for _, hh := range hits {
		if hh.creds != nil {
			hd[hh.name][hh.index] = "Basic " + base64.StdEncoding.EncodeToString(splice(hh.creds, hh.spans, sec))
			continue
		}
		hd[hh.name][hh.index] = string(splice([]byte(hd[hh.name][hh.index]), hh.spans, sec))
	}
}
