package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// ErrBadLink is a build link that does not grant reading the build it is
// used for: malformed, signed for another build, tampered with, expired or
// revoked. The monitor answers it like a missing build.
var ErrBadLink = errors.New("build link is not valid for this build")

// linkMACSize is how many bytes of the HMAC a link keeps (128 bits).
const linkMACSize = 16

// linkSize is the decoded size of a link: issued and expiry times
// (milliseconds, big endian) and the MAC.
const linkSize = 8 + 8 + linkMACSize

// Links are the capabilities in the links of a build's mails: a link grants
// reading that one build's page, log and live stream without signing in,
// and nothing else. A link is the build-independent part of a URL
// (?key=...): its issue and expiry times signed with HMAC-SHA256 under a
// key shared in Redis (rediskey.LinkSecret) over the build ID, so it is
// unguessable, bound to its build and cannot be extended. The owner revokes
// every link of a build issued so far with Revoke.
type Links struct {
	rdb    redis.UniversalClient
	secret *WebSecret
	ttl    time.Duration
	now    func() time.Time
}

// NewLinks returns the link store over rdb; links live ttl (positive) and
// now is the clock (nil: time.Now). The caller owns rdb.
func NewLinks(rdb redis.UniversalClient, ttl time.Duration, now func() time.Time) *Links {
	if now == nil {
		now = time.Now
	}
	return &Links{rdb: rdb, secret: &WebSecret{rdb: rdb, name: rediskey.LinkSecret}, ttl: ttl, now: now}
}

// TTL is how long a new link works.
func (l *Links) TTL() time.Duration { return l.ttl }

func (l *Links) mac(key []byte, id string, times []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fbs build link\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write(times)
	return m.Sum(nil)[:linkMACSize]
}

// Mint returns a new link to build id, valid for the store's TTL.
func (l *Links) Mint(ctx context.Context, id string) (string, error) {
	key, err := l.secret.Key(ctx)
	if err != nil {
		return "", fmt.Errorf("link to build %s: %w", id, err)
	}
	now := l.now()
	b := make([]byte, 16, linkSize)
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli()))
	binary.BigEndian.PutUint64(b[8:16], uint64(now.Add(l.ttl).UnixMilli()))
	b = append(b, l.mac(key, id, b[:16])...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Check tells whether link grants reading build id: nil if it does,
// ErrBadLink (wrapped with why) if not, another error if Redis failed.
func (l *Links) Check(ctx context.Context, id, link string) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(link)
	if err != nil || len(b) != linkSize {
		return fmt.Errorf("%w: malformed", ErrBadLink)
	}
	key, err := l.secret.Key(ctx)
	if err != nil {
		return fmt.Errorf("check link to build %s: %w", id, err)
	}
	if !hmac.Equal(b[16:], l.mac(key, id, b[:16])) {
		return fmt.Errorf("%w: bad signature", ErrBadLink)
	}
	issued := int64(binary.BigEndian.Uint64(b[:8]))
	expires := int64(binary.BigEndian.Uint64(b[8:16]))
	// A link ends at its expiry, and no later than link_ttl after it was
	// issued: lowering link_ttl shortens the links already mailed, and
	// a revocation (kept for link_ttl) outlives every link it ends.
	if now := l.now().UnixMilli(); now >= expires || now >= issued+l.ttl.Milliseconds() {
		return fmt.Errorf("%w: expired", ErrBadLink)
	}
	v, err := l.rdb.Get(ctx, rediskey.LinksRevoked(id)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil
	case err != nil:
		return fmt.Errorf("check link to build %s: %w", id, err)
	}
	if revoked, _ := strconv.ParseInt(v, 10, 64); issued <= revoked {
		return fmt.Errorf("%w: revoked", ErrBadLink)
	}
	return nil
}

// Revoke makes every link to build id issued so far stop working; links
// minted afterwards work.
func (l *Links) Revoke(ctx context.Context, id string) error {
	now := strconv.FormatInt(l.now().UnixMilli(), 10)
	if err := l.rdb.Set(ctx, rediskey.LinksRevoked(id), now, l.ttl).Err(); err != nil {
		return fmt.Errorf("revoke links to build %s: %w", id, err)
	}
	return nil
}
