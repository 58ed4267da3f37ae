package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/redistest"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestLinks checks the capabilities of mailed links against a real Redis:
// a link works for its build only, until it expires or its owner revokes
// the build's links, and any change to it breaks it.
func TestLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	links := auth.NewLinks(rdb, time.Hour, clock)
	id, other := tasks.NewBuildID(), tasks.NewBuildID()
	link, err := links.Mint(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	flip := []byte(link)
	if flip[len(flip)/2] == 'A' {
		flip[len(flip)/2] = 'B'
	} else {
		flip[len(flip)/2] = 'A'
	}
	for _, tc := range []struct {
		name, id, link string
		ok             bool
	}{
		{"valid", id, link, true},
		{"other build", other, link, false},
		{"tampered", id, string(flip), false},
		{"truncated", id, link[:len(link)-2], false},
		{"empty", id, "", false},
		{"not base64", id, strings.Repeat("!", len(link)), false},
	} {
		err := links.Check(ctx, tc.id, tc.link)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, auth.ErrBadLink) {
			t.Errorf("%s: Check = %v", tc.name, err)
		}
	}
	// Another instance (its own store over the same Redis) accepts it.
	if err := auth.NewLinks(rdb, time.Minute, clock).Check(ctx, id, link); err != nil {
		t.Errorf("other instance: %v", err)
	}
	// The last character of a link carries two unused bits: only the
	// link as minted opens the build.
	last := link[len(link)-1]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last) ^ 1
	malleable := link[:len(link)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[alt])
	if err := links.Check(ctx, id, malleable); !errors.Is(err, auth.ErrBadLink) {
		t.Errorf("link %s with other unused bits than %s: Check = %v", malleable, link, err)
	}
	// Lowering link_ttl shortens the links already mailed.
	shorter := auth.NewLinks(rdb, time.Minute, func() time.Time { return now.Add(2 * time.Minute) })
	if err := shorter.Check(ctx, id, link); !errors.Is(err, auth.ErrBadLink) {
		t.Errorf("link older than a lowered link_ttl: Check = %v", err)
	}
	// Expiry.
	later := auth.NewLinks(rdb, time.Hour, func() time.Time { return now.Add(time.Hour) })
	if err := later.Check(ctx, id, link); !errors.Is(err, auth.ErrBadLink) {
		t.Errorf("expired link: Check = %v", err)
	}
	// Revocation ends the links issued so far, not later ones, and is
	// remembered only as long as those could live.
	now = now.Add(time.Minute)
	if err := links.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := links.Check(ctx, id, link); !errors.Is(err, auth.ErrBadLink) {
		t.Errorf("revoked link: Check = %v", err)
	}
	if ttl := rdb.TTL(ctx, rediskey.LinksRevoked(id)).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("revocation TTL %v, want up to the link lifetime", ttl)
	}
	now = now.Add(time.Millisecond)
	fresh, err := links.Mint(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := links.Check(ctx, id, fresh); err != nil {
		t.Errorf("link minted after revocation: %v", err)
	}
	if err := links.Check(ctx, other, fresh); !errors.Is(err, auth.ErrBadLink) {
		t.Errorf("fresh link for another build: %v", err)
	}
}
