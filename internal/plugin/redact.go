package plugin

import (
	"bytes"
	"io"
	"strconv"
)

// redacted replaces a secret in the output of etcdctl.
const redacted = "***"

// Redactor is an io.Writer that writes to W what is written to it with
// every occurrence of a secret replaced by "***", also when an
// occurrence is split across writes: the bytes at the end of a write that
// could begin a secret are held until the next write or Flush. The
// secrets are the password and its Go-quoted form (without the quotes)
// when that differs, as etcdctl's messages may quote a value. It is not
// safe for concurrent writes; use one per stream.
type Redactor struct {
	W       io.Writer
	secrets [][]byte
	held    []byte
}

// NewRedactor is a Redactor of password writing to w; an empty password
// redacts nothing.
func NewRedactor(w io.Writer, password string) *Redactor {
	r := &Redactor{W: w}
	if password == "" {
		return r
	}
	r.secrets = append(r.secrets, []byte(password))
	if q := strconv.Quote(password); q[1:len(q)-1] != password {
		r.secrets = append(r.secrets, []byte(q[1:len(q)-1]))
	}
	return r
}

// Write redacts p (with the bytes held from the last write) and writes
// all of it to W but a tail that could begin a secret. It returns
// len(p), or 0 and W's error.
func (r *Redactor) Write(p []byte) (int, error) {
	buf := append(r.held, p...)
	var out []byte
	for {
		at, n := r.first(buf)
		if at < 0 {
			break
		}
		out = append(append(out, buf[:at]...), redacted...)
		buf = buf[at+n:]
	}
	keep := r.partial(buf)
	out = append(out, buf[:len(buf)-keep]...)
	r.held = append([]byte(nil), buf[len(buf)-keep:]...)
	if len(out) > 0 {
		if _, err := r.W.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes the held tail: the stream has ended, so it is not a secret.
func (r *Redactor) Flush() error {
	if len(r.held) == 0 {
		return nil
	}
	_, err := r.W.Write(r.held)
	r.held = nil
	return err
}

// first is the earliest occurrence of a secret in b (the longest at that
// offset): its offset and length, or -1.
func (r *Redactor) first(b []byte) (at, n int) {
	at = -1
	for _, s := range r.secrets {
		if i := bytes.Index(b, s); i >= 0 && (at < 0 || i < at || (i == at && len(s) > n)) {
			at, n = i, len(s)
		}
	}
	return at, n
}

// partial is the length of the longest tail of b that is a proper prefix
// of a secret.
func (r *Redactor) partial(b []byte) int {
	longest := 0
	for _, s := range r.secrets {
		for k := min(len(s)-1, len(b)); k > longest; k-- {
			if bytes.HasSuffix(b, s[:k]) {
				longest = k
				break
			}
		}
	}
	return longest
}
