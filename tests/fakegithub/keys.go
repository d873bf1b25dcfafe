package fakegithub

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SigningKey is an SSH signing key registered on an account with
// POST /user/ssh_signing_keys.
type SigningKey struct {
	ID      int
	Login   string // the account it belongs to
	Title   string
	Key     string // "ssh-ed25519 AAAA..." as registered, without a comment
	Created time.Time
}

// Keys returns every registered signing key, in order of registration.
func (s *Server) Keys() []SigningKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SigningKey(nil), s.keys...)
}

func keyJSON(k SigningKey) map[string]any {
	return map[string]any{
		"id": k.ID, "key": k.Key, "title": k.Title, "created_at": k.Created.Format(time.RFC3339),
		"url": "https://api.github.com/user/ssh_signing_keys/" + strconv.Itoa(k.ID),
	}
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	login := current(r).Login
	out := []map[string]any{}
	for _, k := range s.Keys() {
		if k.Login == login {
			out = append(out, keyJSON(k))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// addKey registers a key as GitHub does: the key must be an SSH public key
// (its comment is dropped) and not already on the account.
func (s *Server) addKey(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Key string }
	if !readJSON(w, r, &in) {
		return
	}
	key, ok := normalKey(in.Key)
	if !ok {
		writeValidation(w, "PublicKey", "key", "key is invalid. You must supply a key in OpenSSH public key format")
		return
	}
	login := current(r).Login
	s.mu.Lock()
	for _, k := range s.keys {
		if k.Login == login && k.Key == key {
			s.mu.Unlock()
			writeValidation(w, "PublicKey", "key", "key is already in use")
			return
		}
	}
	s.nextID++
	k := SigningKey{ID: s.nextID, Login: login, Title: in.Title, Key: key, Created: time.Now().UTC()}
	s.keys = append(s.keys, k)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, keyJSON(k))
}

// normalKey is "type base64" of an OpenSSH public key line, checked for a
// known type whose blob names the same type.
func normalKey(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", false
	}
	switch f[0] {
	case "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com":
	default:
		return "", false
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(blob) < 4+len(f[0]) || string(blob[4:4+len(f[0])]) != f[0] {
		return "", false
	}
	return f[0] + " " + f[1], true
}

func (s *Server) findKey(r *http.Request) (SigningKey, bool) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	login := current(r).Login
	for _, k := range s.Keys() {
		if k.ID == id && k.Login == login {
			return k, true
		}
	}
	return SigningKey{}, false
}

func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	k, ok := s.findKey(r)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(k))
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	k, ok := s.findKey(r)
	if !ok {
		writeJSONError(w, http.StatusNotFound, "Not Found")
		return
	}
	s.mu.Lock()
	for i := range s.keys {
		if s.keys[i].ID == k.ID {
			s.keys = append(s.keys[:i], s.keys[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
