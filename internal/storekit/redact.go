package storekit

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Redacted is what Redact puts in place of a password.
const Redacted = "xxxxx"

// Redact returns raw, a store URL, with its password replaced by
// Redacted, for messages. Unlike url.URL.Redacted it works on any string,
// parsable or not, and errs on the side of hiding: everything from the
// first ':' of the authority (after "scheme://" or a leading "//") to the
// last '@' of raw is masked, so that a password holding an unescaped '/',
// '?', '#' or '@' is hidden too; so are the values of query parameters
// whose name contains "password" (pgx's password= and sslpassword=). A
// URL without a password may then lose more than its password, in a
// message only.
func Redact(raw string) string {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	} else if strings.HasPrefix(raw, "//") {
		start = len("//")
	}
	if start > 0 {
		if at := strings.LastIndex(raw[start:], "@"); at >= 0 {
			if colon := strings.Index(raw[start:start+at], ":"); colon >= 0 {
				raw = raw[:start+colon+1] + Redacted + raw[start+at:]
			}
		}
	}
	return redactQuery(raw)
}

// redactQuery masks the values of query parameters of raw whose name
// contains "password".
func redactQuery(raw string) string {
	q := strings.IndexByte(raw, '?')
	if q < 0 {
		return raw
	}
	query, frag, hasFrag := strings.Cut(raw[q+1:], "#")
	parts := strings.Split(query, "&")
	changed := false
	for i, part := range parts {
		name, _, ok := strings.Cut(part, "=")
		if ok && strings.Contains(strings.ToLower(name), "password") {
			parts[i], changed = name+"="+Redacted, true
		}
	}
	if !changed {
		return raw
	}
	out := raw[:q+1] + strings.Join(parts, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// ParseURL is url.Parse, but its error names the URL without its
// password: url.Parse's own error repeats the whole URL, and its reason
// may quote a piece of it (`invalid port ":S3cr3t" after host` for a
// password holding a '/'), so the reason keeps only its words, not what
// it quotes.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("parse %q: %s", Redact(raw), unquote(err.Error()))
	}
	return u, nil
}

// unquote drops every double-quoted part of msg.
func unquote(msg string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '"')
		if i < 0 {
			b.WriteString(msg)
			break
		}
		b.WriteString(msg[:i])
		j := strings.IndexByte(msg[i+1:], '"')
		if j < 0 {
			break
		}
		msg = msg[i+1+j+1:]
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
