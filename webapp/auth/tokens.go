package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// TokenPrefix starts every API token, so leaked tokens are recognisable.
const TokenPrefix = "fbs_"

// TokenInfo describes a token; the secret itself is never stored.
type TokenInfo struct {
	// ID is the first 12 hex digits of the hash: it names the token on the
	// account page and in revocations.
	ID string `json:"id"`
	// Name is the owner's label for it.
	Name    string    `json:"name"`
	User    User      `json:"user"`
	Created time.Time `json:"created"`
	// Expires is zero for a token that does not expire.
	Expires time.Time `json:"expires,omitzero"`
	Revoked bool      `json:"revoked,omitempty"`
	// Hash is the hex SHA-256 of the token.
	Hash string `json:"hash"`
}

// Tokens stores API tokens hashed in Redis.
type Tokens struct {
	rdb redis.UniversalClient
	now func() time.Time
	// cache holds tokens Verify found good, by hash, for cacheTTL; nil
	// when Verify always asks Redis.
	cache    *tokenCache
	cacheTTL time.Duration
}

// NewTokens returns a token store over rdb; now is the clock (nil: time.Now).
func NewTokens(rdb redis.UniversalClient, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{rdb: rdb, now: now}
}

// Cached returns a token store like t whose Verify trusts a token it found
// good for ttl without asking Redis again: a busy API client costs one
// Redis read per ttl, not one per request. Expiry is still checked at every
// use, and Revoke through the returned store takes effect at once; a token
// revoked through another store (another web instance) keeps working here
// for at most ttl.
func (t *Tokens) Cached(ttl time.Duration) *Tokens {
	return &Tokens{rdb: t.rdb, now: t.now, cache: &tokenCache{m: map[string]cachedToken{}}, cacheTTL: ttl}
}

// maxCachedTokens bounds the cache; only valid tokens enter it, so it is
// reached only with that many tokens in use within one ttl.
const maxCachedTokens = 4096

// tokenCache is the set of recently verified tokens.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	info  *TokenInfo
	until time.Time
}

func (c *tokenCache) get(h string, now time.Time) *TokenInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	if !ok || !now.Before(e.until) {
		return nil
	}
	return e.info
}

// put remembers info until then. A revocation remembered by revoke wins
// over a good token read before it, so a Verify racing a Revoke cannot
// bring the token back.
func (c *tokenCache) put(h string, info *TokenInfo, now, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[h]; ok && e.info.Revoked && now.Before(e.until) {
		return
	}
	if len(c.m) >= maxCachedTokens {
		clear(c.m)
	}
	c.m[h] = cachedToken{info: info, until: until}
}

// revoke remembers that a token is revoked until then.
func (c *tokenCache) revoke(h string, info *TokenInfo, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[h] = cachedToken{info: info, until: until}
}

// Create issues a token for u named name, valid for ttl (0: no expiry). It
// returns the secret, which is shown once and never stored.
func (t *Tokens) Create(ctx context.Context, u User, name string, ttl time.Duration) (string, *TokenInfo, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, fmt.Errorf("create token: name must be 1 to 100 characters")
	}
	secret := TokenPrefix + randomString(32)
	h := hash(secret)
	info := &TokenInfo{ID: h[:12], Name: name, User: u, Created: t.now().UTC(), Hash: h}
	if ttl > 0 {
		info.Expires = info.Created.Add(ttl)
	}
	data, err := json.Marshal(info)
	if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, rediskey.Token(h), data, 0)
		p.HSet(ctx, rediskey.TokensOf(u.Name), info.ID, h)
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("store token of %s: %w", u.Name, err)
	}
	return secret, info, nil
}

// Verify returns the token's info, or ErrUnknownToken, ErrRevokedToken or
// ErrExpiredToken.
func (t *Tokens) Verify(ctx context.Context, secret string) (*TokenInfo, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, ErrUnknownToken
	}
	h := hash(secret)
	now := t.now()
	var info *TokenInfo
	if t.cache != nil {
		info = t.cache.get(h, now)
	}
	if info == nil {
		var err error
		if info, err = t.get(ctx, h); err != nil {
			return nil, err
		}
		if t.cache != nil && !info.Revoked {
			t.cache.put(h, info, now, now.Add(t.cacheTTL))
		}
	}
	switch {
	case info.Revoked:
		return nil, ErrRevokedToken
	case !info.Expires.IsZero() && !now.Before(info.Expires):
		return nil, ErrExpiredToken
	}
	return info, nil
}

func (t *Tokens) get(ctx context.Context, h string) (*TokenInfo, error) {
	data, err := t.rdb.Get(ctx, rediskey.Token(h)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	var info TokenInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("decode token %s: %w", h[:12], err)
	}
	return &info, nil
}

// List returns user's tokens that are not revoked, newest first.
func (t *Tokens) List(ctx context.Context, user string) ([]*TokenInfo, error) {
	m, err := t.rdb.HGetAll(ctx, rediskey.TokensOf(user)).Result()
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", user, err)
	}
	var out []*TokenInfo
	for _, h := range m {
		info, err := t.get(ctx, h)
		if errors.Is(err, ErrUnknownToken) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !info.Revoked {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Revoke revokes user's token id. A token of another user is
// ErrUnknownToken: nobody learns which IDs exist.
func (t *Tokens) Revoke(ctx context.Context, user, id string) error {
	h, err := t.rdb.HGet(ctx, rediskey.TokensOf(user), id).Result()
	if errors.Is(err, redis.Nil) {
		return ErrUnknownToken
	}
	if err != nil {
		return fmt.Errorf("revoke token %s of %s: %w", id, user, err)
	}
	info, err := t.get(ctx, h)
	if err != nil {
		return err
	}
	info.Revoked = true
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, rediskey.Token(h), data, rediskey.RevokedTokenTTL)
		p.HDel(ctx, rediskey.TokensOf(user), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke token %s of %s: %w", id, user, err)
	}
	if t.cache != nil {
		now := t.now()
		t.cache.revoke(h, info, now.Add(t.cacheTTL))
	}
	return nil
}
