// Package auth holds the web app's identities and credentials in Redis: who
// a user is (User), what they may do as of their latest sign-in (Users),
// browser sessions and sign-ins in progress (Sessions), API tokens
// (Tokens), which are stored only as SHA-256 hashes, shown to their owner
// once, and act with their user's current rights, never rights of their
// own, the HMAC secret all web instances share (WebSecret) and
// the per-user submission counters of the rate limit (RateLimits). These
// store types are the web app's only way to its keys (named in
// tasks/rediskey). It knows nothing of HTTP.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// User is a signed-in person, or the implicit local user in local mode.
type User struct {
	// Name identifies the user: the OIDC preferred_username (or subject),
	// or the local user's name. Builds are owned by it.
	Name string `json:"name"`
	// Email prefills the build form.
	Email string `json:"email,omitempty"`
	// Groups are the OIDC group claim's values.
	Groups []string `json:"groups,omitempty"`
	// Admin users see and cancel everyone's builds.
	Admin bool `json:"admin,omitempty"`
	// CanSubmit is false when a submit group is configured and the user is
	// not in it.
	CanSubmit bool `json:"can_submit"`
}

// InGroup reports whether u is in group g.
func (u *User) InGroup(g string) bool { return slices.Contains(u.Groups, g) }

// Errors of token and session checks; the web app maps them to 401.
var (
	// ErrUnknownToken is a token that was never issued.
	ErrUnknownToken = errors.New("unknown API token")
	// ErrRevokedToken is a token its owner revoked.
	ErrRevokedToken = errors.New("API token was revoked")
	// ErrExpiredToken is a token past its expiry.
	ErrExpiredToken = errors.New("API token has expired")
	// ErrNoSession is a session cookie that names no live session.
	ErrNoSession = errors.New("session expired or unknown")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomString returns n random bytes in lowercase base32.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return lower(b32.EncodeToString(b))
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// getJSON reads the JSON value of key into v; a missing key is missing.
// Other errors say whether reading or decoding failed; callers add what
// they were looking up.
func getJSON(ctx context.Context, rdb redis.UniversalClient, key string, v any, missing error) error {
	data, err := rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return missing
	}
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// hash is how secrets are stored: hex SHA-256.
func hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// maxUserName bounds a user name: it is part of Redis key names.
const maxUserName = 256

// ValidUserName reports whether name can name a user: 1 to 256
// characters, none of them space, control, ':' or '/'.
func ValidUserName(name string) bool {
	if name == "" || len(name) > maxUserName {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == ':' || r == '/' {
			return false
		}
	}
	return true
}
