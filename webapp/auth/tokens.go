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

// Token lifetimes.
const (
	// DefaultTokenLifetime is a token's life when its maker names none.
	DefaultTokenLifetime = 90 * 24 * time.Hour
	// DefaultTokenMaxLifetime is the longest a token lives when the store
	// is given no maximum ([web] token_max_days' default).
	DefaultTokenMaxLifetime = 365 * 24 * time.Hour
)

// TokenInfo describes a token; the secret itself is never stored.
type TokenInfo struct {
	// ID is the first 12 hex digits of the hash: it names the token on the
	// account page and in revocations.
	ID string `json:"id"`
	// Name is the owner's label for it.
	Name string `json:"name"`
	// User is the token's owner. Only the name is stored with the token;
	// Verify fills in the user's rights as of their latest sign-in
	// (Users), so a token has no rights of its own.
	User    User      `json:"user"`
	Created time.Time `json:"created"`
	// Expires is when the token stops working: never later than Created
	// plus the store's maximum lifetime, whatever was stored (tokens made
	// before every token expired have none stored).
	Expires time.Time `json:"expires"`
	Revoked bool      `json:"revoked,omitempty"`
	// Hash is the hex SHA-256 of the token.
	Hash string `json:"hash"`
}

// TokenOptions configures a token store; the zero value is usable.
type TokenOptions struct {
	// Users gives a token its user's current rights. Nil: tokens act with
	// no admin or submit rights.
	Users *Users
	// MaxLifetime caps every token's life, counted from its creation, for
	// tokens already stored as well: lowering it shortens them. Default
	// DefaultTokenMaxLifetime.
	MaxLifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Tokens stores API tokens hashed in Redis.
type Tokens struct {
	rdb   redis.UniversalClient
	users *Users
	now   func() time.Time
	max   time.Duration
	// cache holds tokens Verify found good, by hash, for cacheTTL; nil
	// when Verify always asks Redis.
	cache    *tokenCache
	cacheTTL time.Duration
}

// NewTokens returns a token store over rdb; the caller owns rdb.
func NewTokens(rdb redis.UniversalClient, opts TokenOptions) *Tokens {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxLifetime <= 0 {
		opts.MaxLifetime = DefaultTokenMaxLifetime
	}
	return &Tokens{rdb: rdb, users: opts.Users, now: opts.Now, max: opts.MaxLifetime}
}

// MaxLifetime is the longest a token of this store lives.
func (t *Tokens) MaxLifetime() time.Duration { return t.max }

// Cached returns a token store like t whose Verify trusts a token it found
// good, and its user's rights, for ttl without asking Redis again: a busy
// API client costs Redis reads once per ttl, not at every request. Expiry
// is still checked at every use, and Revoke, RevokeAll and ForgetUser
// through the returned store take effect at once; a token revoked, or a
// user whose rights changed, through another store (another web instance)
// keeps its old standing here for at most ttl.
func (t *Tokens) Cached(ttl time.Duration) *Tokens {
	return &Tokens{rdb: t.rdb, users: t.users, now: t.now, max: t.max,
		cache: &tokenCache{m: map[string]cachedToken{}}, cacheTTL: ttl}
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

// forget drops the entries of user's tokens.
func (c *tokenCache) forget(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.info.User.Name == user && !e.info.Revoked {
			delete(c.m, h)
		}
	}
}

// revoke remembers that a token is revoked until then.
func (c *tokenCache) revoke(h string, info *TokenInfo, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[h] = cachedToken{info: info, until: until}
}

// ErrTokenLifetime is a token asked for with no lifetime or one past the
// store's maximum.
var ErrTokenLifetime = errors.New("token lifetime out of range")

// Create issues a token for user u named name, valid for ttl, which must be
// positive and at most MaxLifetime. Only u's name is stored with it: the
// token acts with u's rights as of their latest sign-in. It returns the
// secret, which is shown once and never stored.
func (t *Tokens) Create(ctx context.Context, u User, name string, ttl time.Duration) (string, *TokenInfo, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, fmt.Errorf("create token: name must be 1 to 100 characters")
	}
	if ttl <= 0 || ttl > t.max {
		return "", nil, fmt.Errorf("create token for %s: %w: %s, want up to %s", u.Name, ErrTokenLifetime, ttl, t.max)
	}
	secret := TokenPrefix + randomString(32)
	h := hash(secret)
	info := &TokenInfo{ID: h[:12], Name: name, User: User{Name: u.Name}, Created: t.now().UTC(), Hash: h}
	info.Expires = info.Created.Add(ttl)
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

// Verify returns the token's info, its User being the owner with their
// rights as of their latest sign-in (none if there is no sign-in on
// record), or ErrUnknownToken, ErrRevokedToken or ErrExpiredToken.
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
		if !info.Revoked {
			if info.User, err = t.rights(ctx, info.User.Name); err != nil {
				return nil, err
			}
			if t.cache != nil {
				t.cache.put(h, info, now, now.Add(t.cacheTTL))
			}
		}
	}
	switch {
	case info.Revoked:
		return nil, ErrRevokedToken
	case !now.Before(info.Expires):
		return nil, ErrExpiredToken
	}
	return info, nil
}

// rights is user name as of their latest sign-in; without one on record,
// the user with no rights.
func (t *Tokens) rights(ctx context.Context, name string) (User, error) {
	if t.users == nil {
		return User{Name: name}, nil
	}
	r, err := t.users.Get(ctx, name)
	if errors.Is(err, ErrNoRights) {
		return User{Name: name}, nil
	}
	if err != nil {
		return User{}, fmt.Errorf("verify token: %w", err)
	}
	r.User.Name = name
	return r.User, nil
}

// ForgetUser drops what this store's cache holds of user's tokens, so
// that new rights of user (a sign-in just recorded) apply at once here.
func (t *Tokens) ForgetUser(user string) {
	if t.cache != nil {
		t.cache.forget(user)
	}
}

func (t *Tokens) get(ctx context.Context, h string) (*TokenInfo, error) {
	var info TokenInfo
	if err := getJSON(ctx, t.rdb, rediskey.Token(h), &info, ErrUnknownToken); err != nil {
		if errors.Is(err, ErrUnknownToken) {
			return nil, err
		}
		return nil, fmt.Errorf("look up token %s: %w", h[:12], err)
	}
	if limit := info.Created.Add(t.max); info.Expires.IsZero() || info.Expires.After(limit) {
		info.Expires = limit
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

// RevokeAll revokes every live token of user, for an administrator
// cutting a user off, and returns how many there were. Tokens made while
// it runs are revoked too (the index is watched).
func (t *Tokens) RevokeAll(ctx context.Context, user string) (int, error) {
	key := rediskey.TokensOf(user)
	var revoked []*TokenInfo
	txf := func(tx *redis.Tx) error {
		revoked = revoked[:0]
		m, err := tx.HGetAll(ctx, key).Result()
		if err != nil {
			return err
		}
		for _, h := range m {
			info, err := t.get(ctx, h)
			if errors.Is(err, ErrUnknownToken) {
				continue
			}
			if err != nil {
				return err
			}
			info.Revoked = true
			revoked = append(revoked, info)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, info := range revoked {
				data, err := json.Marshal(info)
				if err != nil {
					return err
				}
				p.Set(ctx, rediskey.Token(info.Hash), data, rediskey.RevokedTokenTTL)
			}
			p.Del(ctx, key)
			return nil
		})
		return err
	}
	var err error
	for range 10 {
		if err = t.rdb.Watch(ctx, txf, key); !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("revoke all tokens of %s: %w", user, err)
	}
	if t.cache != nil {
		until := t.now().Add(t.cacheTTL)
		for _, info := range revoked {
			t.cache.revoke(info.Hash, info, until)
		}
	}
	return len(revoked), nil
}
