package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

const day = 24 * time.Hour

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestCachedTokens checks what a caching token store answers over time:
// revocation through it is at once, revocation through another store (a
// second web instance) within the cache's lifetime, expiry at once, and a
// store without a cache always asks Redis.
func TestCachedTokens(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	alice := auth.User{Name: "alice", CanSubmit: true}
	type step struct {
		// revokeHere revokes through the store under test, revokeThere
		// through another one over the same Redis; wait moves the clock.
		revokeHere, revokeThere bool
		wait                    time.Duration
		want                    error
	}
	tests := []struct {
		name     string
		cacheTTL time.Duration // 0: no cache
		expiry   time.Duration // token lifetime
		steps    []step
	}{
		{"revoked here: refused at once", ttl, day, []step{
			{want: nil}, {revokeHere: true, want: auth.ErrRevokedToken}, {wait: 2 * ttl, want: auth.ErrRevokedToken}}},
		{"revoked elsewhere: refused within the cache's lifetime", ttl, day, []step{
			{want: nil}, {revokeThere: true, want: nil}, {wait: ttl, want: auth.ErrRevokedToken}}},
		{"revoked elsewhere before first use: refused", ttl, day, []step{
			{revokeThere: true, want: auth.ErrRevokedToken}}},
		{"expiry is checked at every use", ttl, 1500 * time.Millisecond, []step{
			{want: nil}, {wait: time.Second, want: nil}, {wait: 400 * time.Millisecond, want: nil},
			{wait: 100 * time.Millisecond, want: auth.ErrExpiredToken}}},
		{"no cache: revoked elsewhere is refused at once", 0, day, []step{
			{want: nil}, {revokeThere: true, want: auth.ErrRevokedToken}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb := redistest.Start(t).Client()
			clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			here, there := auth.NewTokens(rdb, auth.TokenOptions{Now: clk.now}), auth.NewTokens(rdb, auth.TokenOptions{Now: clk.now})
			if tc.cacheTTL > 0 {
				here = here.Cached(tc.cacheTTL)
			}
			secret, info, err := here.Create(ctx, alice, "ci", tc.expiry)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				clk.add(s.wait)
				if s.revokeHere {
					if err := here.Revoke(ctx, "alice", info.ID); err != nil {
						t.Fatal(err)
					}
				}
				if s.revokeThere {
					if err := there.Revoke(ctx, "alice", info.ID); err != nil {
						t.Fatal(err)
					}
				}
				got, err := here.Verify(ctx, secret)
				if !errors.Is(err, s.want) || (err == nil) != (s.want == nil) {
					t.Fatalf("step %d: Verify: %v, want %v", i, err, s.want)
				}
				if err == nil && got.User.Name != "alice" {
					t.Fatalf("step %d: token of %q, want alice", i, got.User.Name)
				}
			}
		})
	}
}

// TestCachedTokensRevokeRace verifies a token from many goroutines while it
// is revoked through the same store: once Revoke returns, no Verify may
// accept it again, whatever it read from Redis before.
func TestCachedTokensRevokeRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tokens := auth.NewTokens(redistest.Start(t).Client(), auth.TokenOptions{}).Cached(time.Hour)
	secret, info, err := tokens.Create(ctx, auth.User{Name: "alice"}, "ci", day)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = tokens.Verify(ctx, secret) // only racing Revoke; checked below
				}
			}
		}()
	}
	if err := tokens.Revoke(ctx, "alice", info.ID); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if _, err := tokens.Verify(ctx, secret); !errors.Is(err, auth.ErrRevokedToken) {
			t.Fatalf("Verify after Revoke: %v, want ErrRevokedToken", err)
		}
	}
	close(stop)
	wg.Wait()
}
