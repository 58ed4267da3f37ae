package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// WebSecret is the web app's HMAC key (for CSRF tokens), shared in Redis
// by every web instance: the first to ask creates it, and each instance
// reads it once and keeps it.
type WebSecret struct {
	rdb  redis.UniversalClient
	name string // the Redis key

	mu  sync.Mutex
	key []byte
}

// NewWebSecret returns the shared secret over rdb; the caller owns rdb.
func NewWebSecret(rdb redis.UniversalClient) *WebSecret {
	return &WebSecret{rdb: rdb, name: rediskey.WebSecret}
}

// Key returns the secret, creating it in Redis if no instance has yet. A
// failure is not remembered: the next call asks Redis again.
func (w *WebSecret) Key(ctx context.Context) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.key != nil {
		return w.key, nil
	}
	if err := w.rdb.SetNX(ctx, w.name, NewSecret(32), 0).Err(); err != nil {
		return nil, fmt.Errorf("create secret %s: %w", w.name, err)
	}
	v, err := w.rdb.Get(ctx, w.name).Bytes()
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", w.name, err)
	}
	w.key = v
	return v, nil
}

// RateLimits counts a user's submissions in fixed windows of time, in
// Redis, so that every web instance counts against the same limit.
type RateLimits struct {
	rdb    redis.UniversalClient
	window time.Duration
}

// NewRateLimits returns counters over rdb for windows of length window
// (positive); the caller owns rdb.
func NewRateLimits(rdb redis.UniversalClient, window time.Duration) *RateLimits {
	return &RateLimits{rdb: rdb, window: window}
}

// Hit counts one submission of user at now. It returns how many there
// were in now's window, this one included, and when that window ends.
func (r *RateLimits) Hit(ctx context.Context, user string, now time.Time) (int64, time.Time, error) {
	win := now.UnixNano() / int64(r.window)
	k := rediskey.SubmitRate(user, win)
	var n *redis.IntCmd
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, k)
		p.Expire(ctx, k, r.window+time.Second)
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("rate limit of %s: %w", user, err)
	}
	return n.Val(), time.Unix(0, (win+1)*int64(r.window)), nil
}
