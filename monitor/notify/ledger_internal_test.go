package notify

import (
	"context"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// TestLedger walks the ledger of one mail through a send: not sent, locked
// by one run and refused to a second, released only by its holder, then
// recorded as sent for rediskey.NotifySentTTL, and checks the keys it
// leaves in a real Redis.
func TestLedger(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	l := ledger{rdb}
	ctx := context.Background()
	const mail = "01JBXK3M0000000000000000AA:finished"

	if sent, err := l.sent(ctx, mail); err != nil || sent {
		t.Fatalf("sent before any send = %v, %v", sent, err)
	}
	tok, err := l.lock(ctx, mail, time.Minute)
	if err != nil || tok == "" {
		t.Fatalf("first lock = %q, %v", tok, err)
	}
	if ttl := rdb.PTTL(ctx, rediskey.NotifyLock(mail)).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("lock TTL %v, want at most 1m", ttl)
	}
	if again, err := l.lock(ctx, mail, time.Minute); err != nil || again != "" {
		t.Errorf("second lock = %q, %v; want refused", again, err)
	}
	if err := l.unlock(ctx, mail, "not-the-token"); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, rediskey.NotifyLock(mail)).Val(); n != 1 {
		t.Errorf("unlock with another token released the lock")
	}
	if err := l.unlock(ctx, mail, tok); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, rediskey.NotifyLock(mail)).Val(); n != 0 {
		t.Errorf("unlock by its holder left the lock")
	}
	if tok, err := l.lock(ctx, mail, time.Minute); err != nil || tok == "" {
		t.Errorf("lock after unlock = %q, %v", tok, err)
	}

	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	if err := l.markSent(ctx, mail, at); err != nil {
		t.Fatal(err)
	}
	if sent, err := l.sent(ctx, mail); err != nil || !sent {
		t.Errorf("sent after markSent = %v, %v", sent, err)
	}
	if v := rdb.Get(ctx, rediskey.NotifySent(mail)).Val(); v != "2026-11-27T09:00:00Z" {
		t.Errorf("sent key holds %q, want the UTC time", v)
	}
	if ttl := rdb.TTL(ctx, rediskey.NotifySent(mail)).Val(); ttl < rediskey.NotifySentTTL-time.Minute || ttl > rediskey.NotifySentTTL {
		t.Errorf("sent key TTL %v, want %v", ttl, rediskey.NotifySentTTL)
	}
	if sent, err := l.sent(ctx, "01JBXK3M0000000000000000AA:submitted"); err != nil || sent {
		t.Errorf("the other kind's mail counts as sent: %v, %v", sent, err)
	}
}
