package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestWebSecret checks that web instances over one Redis share one
// secret, made by the first and kept without expiry.
func TestWebSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	first, err := auth.NewWebSecret(rdb).Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < 32 {
		t.Errorf("secret of %d bytes", len(first))
	}
	second, err := auth.NewWebSecret(rdb).Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != string(second) {
		t.Errorf("two instances got different secrets")
	}
	if v := rdb.Get(ctx, rediskey.WebSecret).Val(); v != string(first) {
		t.Errorf("Redis holds %q, instances use %q", v, first)
	}
	if ttl := rdb.TTL(ctx, rediskey.WebSecret).Val(); ttl != -1 {
		t.Errorf("secret TTL %v, want none", ttl)
	}
}

// TestRateLimits counts submissions in fixed windows: per user, shared by
// instances, restarting with each window, each key expiring after its
// window.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	const window = time.Minute
	here, there := auth.NewRateLimits(rdb, window), auth.NewRateLimits(rdb, window)
	t0 := time.Unix(1_800_000_000, 0).Truncate(window) // a window's start
	type hit struct {
		limits  *auth.RateLimits
		user    string
		at      time.Duration // after t0
		wantN   int64
		wantEnd time.Duration // after t0
	}
	hits := []hit{
		{here, "alice", 0, 1, window},
		{here, "alice", 10 * time.Second, 2, window},
		{there, "alice", 59 * time.Second, 3, window},
		{here, "bob", 30 * time.Second, 1, window},
		{there, "alice", window, 1, 2 * window},
		{here, "alice", window + time.Second, 2, 2 * window},
	}
	for i, h := range hits {
		n, end, err := h.limits.Hit(ctx, h.user, t0.Add(h.at))
		if err != nil {
			t.Fatal(err)
		}
		got, want := [2]any{n, end}, [2]any{h.wantN, t0.Add(h.wantEnd)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("hit %d (%s at +%v): count, window end (-want +got):\n%s", i, h.user, h.at, diff)
		}
	}
	k := rediskey.SubmitRate("alice", t0.UnixNano()/int64(window))
	if ttl := rdb.TTL(ctx, k).Val(); ttl <= 0 || ttl > window+time.Second {
		t.Errorf("%s: TTL %v, want at most the window and a second", k, ttl)
	}
}

// TestSessionKeys checks what a session and a sign-in state leave in
// Redis: keys named by the hash of the secret (never the secret), expiring
// with their lifetime, gone when ended or used.
func TestSessionKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	s := auth.NewSessions(rdb, time.Hour)
	hash := func(v string) string { h := sha256.Sum256([]byte(v)); return hex.EncodeToString(h[:]) }

	id, err := s.Create(ctx, auth.User{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, rediskey.Session(hash(id))).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("session TTL %v, want at most 1h", ttl)
	}
	if n := rdb.Exists(ctx, rediskey.Session(id)).Val(); n != 0 {
		t.Errorf("session stored under its cookie value")
	}
	if ses, err := s.Get(ctx, id); err != nil || ses.User.Name != "alice" {
		t.Fatalf("Get = %v, %v", ses, err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, id); !errors.Is(err, auth.ErrNoSession) {
		t.Errorf("Get after Delete: %v, want ErrNoSession", err)
	}

	if err := s.PutState(ctx, "st", []byte("v"), 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, rediskey.SignInState(hash("st"))).Val(); ttl <= 0 || ttl > 10*time.Minute {
		t.Errorf("sign-in state TTL %v, want at most 10m", ttl)
	}
	if v, err := s.TakeState(ctx, "st"); err != nil || string(v) != "v" {
		t.Errorf("TakeState = %q, %v", v, err)
	}
	if _, err := s.TakeState(ctx, "st"); !errors.Is(err, auth.ErrNoSession) {
		t.Errorf("second TakeState: %v, want ErrNoSession", err)
	}
}
