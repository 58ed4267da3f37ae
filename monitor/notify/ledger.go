package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// ledger is the Redis half of the delivery guarantee (see the package
// doc): which mails were sent, and which run is sending one. A mail is
// named by its notification task ID, "<build>:<kind>"; the keys are
// rediskey.NotifySent and rediskey.NotifyLock.
type ledger struct {
	rdb redis.UniversalClient
}

// sent reports whether mail was recorded as sent.
func (l ledger) sent(ctx context.Context, mail string) (bool, error) {
	n, err := l.rdb.Exists(ctx, rediskey.NotifySent(mail)).Result()
	if err != nil {
		return false, fmt.Errorf("check whether mail %s was sent: %w", mail, err)
	}
	return n > 0, nil
}

// markSent records that mail was sent at time at, for
// rediskey.NotifySentTTL.
func (l ledger) markSent(ctx context.Context, mail string, at time.Time) error {
	if err := l.rdb.Set(ctx, rediskey.NotifySent(mail), at.UTC().Format(time.RFC3339), rediskey.NotifySentTTL).Err(); err != nil {
		return fmt.Errorf("record mail %s as sent: %w", mail, err)
	}
	return nil
}

// lock takes the send lock of mail for ttl. It returns the token that
// unlock needs, or "" when another run holds the lock.
func (l ledger) lock(ctx context.Context, mail string, ttl time.Duration) (string, error) {
	var tok [16]byte
	_, _ = rand.Read(tok[:]) // crypto/rand.Read never fails
	token := hex.EncodeToString(tok[:])
	ok, err := l.rdb.SetNX(ctx, rediskey.NotifyLock(mail), token, ttl).Result()
	if err != nil {
		return "", fmt.Errorf("lock mail %s: %w", mail, err)
	}
	if !ok {
		return "", nil
	}
	return token, nil
}

// unlock releases the send lock of mail if token still holds it; a lock
// that expired and was taken by another run stays that run's.
func (l ledger) unlock(ctx context.Context, mail, token string) error {
	err := unlockScript.Run(ctx, l.rdb, []string{rediskey.NotifyLock(mail)}, token).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("unlock mail %s: %w", mail, err)
	}
	return nil
}

// unlockScript deletes a lock only if it is still ours.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// ForgetBuild deletes the sent marks of every mail of build id, once the
// build itself is removed (retention): no task for it can run again.
// It returns how many marks there were.
func ForgetBuild(ctx context.Context, rdb redis.UniversalClient, id string) (int64, error) {
	keys := []string{
		rediskey.NotifySent(tasks.NotifyTaskID(id, tasks.MailSubmitted)),
		rediskey.NotifySent(tasks.NotifyTaskID(id, tasks.MailFinished)),
	}
	n, err := rdb.Del(ctx, keys...).Result()
	if err != nil {
		return 0, fmt.Errorf("forget mails of build %s: %w", id, err)
	}
	return n, nil
}

// ForgetGroup deletes the sent marks of the mails of group id (its
// submission and completion mails), once the group itself is removed
// (retention). It returns how many marks there were.
func ForgetGroup(ctx context.Context, rdb redis.UniversalClient, id string) (int64, error) {
	keys := []string{
		rediskey.NotifySent(tasks.NotifyTaskID(id, tasks.MailGroupSubmitted)),
		rediskey.NotifySent(tasks.NotifyTaskID(id, tasks.MailGroupFinished)),
	}
	n, err := rdb.Del(ctx, keys...).Result()
	if err != nil {
		return 0, fmt.Errorf("forget mails of group %s: %w", id, err)
	}
	return n, nil
}
