package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// Session is a signed-in browser.
type Session struct {
	User    User      `json:"user"`
	Created time.Time `json:"created"`
}

// Sessions stores browser sessions in Redis under the hash of their cookie
// value, so a Redis dump does not hand out live sessions.
type Sessions struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// NewSessions returns a session store; sessions last ttl.
func NewSessions(rdb redis.UniversalClient, ttl time.Duration) *Sessions {
	return &Sessions{rdb: rdb, ttl: ttl}
}

// Create starts a session for u and returns the cookie value.
func (s *Sessions) Create(ctx context.Context, u User) (string, error) {
	id := randomString(32)
	data, err := json.Marshal(Session{User: u, Created: time.Now().UTC()})
	if err != nil {
		return "", fmt.Errorf("create session of %s: %w", u.Name, err)
	}
	if err := s.rdb.Set(ctx, rediskey.Session(hash(id)), data, s.ttl).Err(); err != nil {
		return "", fmt.Errorf("store session of %s: %w", u.Name, err)
	}
	return id, nil
}

// Get returns the session of cookie value id, or ErrNoSession.
func (s *Sessions) Get(ctx context.Context, id string) (*Session, error) {
	if id == "" {
		return nil, ErrNoSession
	}
	var ses Session
	if err := getJSON(ctx, s.rdb, rediskey.Session(hash(id)), &ses, ErrNoSession); err != nil {
		if errors.Is(err, ErrNoSession) {
			return nil, err
		}
		return nil, fmt.Errorf("look up session: %w", err)
	}
	return &ses, nil
}

// Delete ends the session of cookie value id.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, rediskey.Session(hash(id))).Err(); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// PutState remembers an OIDC sign-in in progress (state -> value) for ttl.
func (s *Sessions) PutState(ctx context.Context, state string, value []byte, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, rediskey.SignInState(hash(state)), value, ttl).Err(); err != nil {
		return fmt.Errorf("store sign-in state: %w", err)
	}
	return nil
}

// TakeState returns and forgets the value of state; ErrNoSession if it is
// unknown, used or expired.
func (s *Sessions) TakeState(ctx context.Context, state string) ([]byte, error) {
	v, err := s.rdb.GetDel(ctx, rediskey.SignInState(hash(state))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("look up sign-in state: %w", err)
	}
	return v, nil
}

// NewSecret returns a random string of n bytes of entropy, for states,
// nonces and PKCE verifiers.
func NewSecret(n int) string { return randomString(n) }
