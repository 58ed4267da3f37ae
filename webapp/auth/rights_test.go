package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestTokenRights checks that a token acts with its user's rights as of
// their latest sign-in, never with those the user had when it was made,
// and that a new sign-in reaches a caching store at once through
// ForgetUser and within the cache's lifetime without.
func TestTokenRights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	users := auth.NewUsers(rdb, 0)
	here := auth.NewTokens(rdb, auth.TokenOptions{Users: users, Now: clk.now}).Cached(time.Second)
	admin := auth.User{Name: "alice", Groups: []string{"fbs-admin"}, Admin: true, CanSubmit: true}
	// A token made before any sign-in is on record has no rights.
	secret, _, err := here.Create(ctx, admin, "ci", day)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, admin, submit bool) {
		t.Helper()
		info, err := here.Verify(ctx, secret)
		if err != nil {
			t.Fatalf("%s: Verify: %v", step, err)
		}
		if info.User.Name != "alice" || info.User.Admin != admin || info.User.CanSubmit != submit {
			t.Errorf("%s: user %+v, want admin=%v submit=%v", step, info.User, admin, submit)
		}
	}
	check("no sign-in on record", false, false)
	if err := users.Put(ctx, admin, clk.now()); err != nil {
		t.Fatal(err)
	}
	here.ForgetUser("alice")
	check("signed in as admin", true, true)
	// Taken out of the admin group, signed in again.
	if err := users.Put(ctx, auth.User{Name: "alice", CanSubmit: true}, clk.now()); err != nil {
		t.Fatal(err)
	}
	check("cached, sign-in elsewhere", true, true)
	clk.add(time.Second)
	check("cache expired", false, true)
	if err := users.Put(ctx, auth.User{Name: "alice"}, clk.now()); err != nil {
		t.Fatal(err)
	}
	here.ForgetUser("alice")
	check("out of the submit group, forgotten here", false, false)
	// What was stored with the token is its owner's name only.
	h := sha256.Sum256([]byte(secret))
	data, err := rdb.Get(ctx, rediskey.Token(hex.EncodeToString(h[:]))).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var stored auth.TokenInfo
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.User.Admin || stored.User.CanSubmit || len(stored.User.Groups) > 0 {
		t.Errorf("token stored with rights: %+v", stored.User)
	}
}

// TestRevokeAll checks an administrator's revocation of every token of a
// user: at once through the store that revoked, within the cache's
// lifetime elsewhere, other users' tokens untouched.
func TestRevokeAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	here := auth.NewTokens(rdb, auth.TokenOptions{Now: clk.now}).Cached(time.Second)
	there := auth.NewTokens(rdb, auth.TokenOptions{Now: clk.now}).Cached(time.Second)
	var bobs []string
	for _, n := range []string{"laptop", "ci", "old"} {
		s, _, err := here.Create(ctx, auth.User{Name: "bob"}, n, day)
		if err != nil {
			t.Fatal(err)
		}
		bobs = append(bobs, s)
	}
	alice, _, err := here.Create(ctx, auth.User{Name: "alice"}, "ci", day)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(bobs, alice) {
		for _, st := range []*auth.Tokens{here, there} {
			if _, err := st.Verify(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := here.RevokeAll(ctx, "bob")
	if err != nil || n != 3 {
		t.Fatalf("RevokeAll = %d, %v; want 3", n, err)
	}
	for _, s := range bobs {
		if _, err := here.Verify(ctx, s); !errors.Is(err, auth.ErrRevokedToken) {
			t.Errorf("bob's token here: %v, want revoked", err)
		}
	}
	clk.add(time.Second)
	for _, s := range bobs {
		if _, err := there.Verify(ctx, s); !errors.Is(err, auth.ErrRevokedToken) {
			t.Errorf("bob's token elsewhere after the cache's lifetime: %v, want revoked", err)
		}
	}
	if _, err := here.Verify(ctx, alice); err != nil {
		t.Errorf("alice's token: %v", err)
	}
	if l, err := here.List(ctx, "bob"); err != nil || len(l) != 0 {
		t.Errorf("bob's tokens after RevokeAll: %v, %v", l, err)
	}
	if n, err := here.RevokeAll(ctx, "bob"); err != nil || n != 0 {
		t.Errorf("second RevokeAll = %d, %v", n, err)
	}
}

// TestTokenLifetime checks that every token expires: Create refuses no
// lifetime and one past the maximum, and a stored token without expiry (as
// older versions made) or with a longer one ends at the maximum.
func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	const max = 30 * day
	tokens := auth.NewTokens(rdb, auth.TokenOptions{Now: clk.now, MaxLifetime: max})
	for _, ttl := range []time.Duration{0, -day, max + time.Second} {
		if _, _, err := tokens.Create(ctx, auth.User{Name: "alice"}, "ci", ttl); !errors.Is(err, auth.ErrTokenLifetime) {
			t.Errorf("Create for %s: %v, want ErrTokenLifetime", ttl, err)
		}
	}
	if _, _, err := tokens.Create(ctx, auth.User{Name: "alice"}, "ci", max); err != nil {
		t.Errorf("Create for the maximum: %v", err)
	}
	// Tokens as stored by older versions or under a larger maximum.
	for _, tc := range []struct {
		name    string
		expires time.Time
	}{{"never", time.Time{}}, {"in ten years", clk.now().AddDate(10, 0, 0)}} {
		secret := auth.TokenPrefix + tc.name
		h := sha256.Sum256([]byte(secret))
		hx := hex.EncodeToString(h[:])
		data, _ := json.Marshal(auth.TokenInfo{ID: hx[:12], Name: tc.name, User: auth.User{Name: "alice", Admin: true},
			Created: clk.now(), Expires: tc.expires, Hash: hx})
		if err := rdb.Set(ctx, rediskey.Token(hx), data, 0).Err(); err != nil {
			t.Fatal(err)
		}
		info, err := tokens.Verify(ctx, secret)
		if err != nil || !info.Expires.Equal(clk.now().Add(max)) || info.User.Admin {
			t.Errorf("stored token expiring %s: %+v, %v; want expiry at the maximum, no rights", tc.name, info, err)
		}
		later := auth.NewTokens(rdb, auth.TokenOptions{MaxLifetime: max, Now: func() time.Time { return clk.now().Add(max) }})
		if _, err := later.Verify(ctx, secret); !errors.Is(err, auth.ErrExpiredToken) {
			t.Errorf("stored token expiring %s, after the maximum: %v, want expired", tc.name, err)
		}
	}
}
