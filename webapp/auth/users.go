package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// ErrNoRights is a user with no sign-in on record (none since rights were
// first recorded, or none within the record's lifetime).
var ErrNoRights = errors.New("user has not signed in")

// Rights is a user as of their latest sign-in: what the identity provider
// said then decides what the user's API tokens may do now.
type Rights struct {
	User     User      `json:"user"`
	SignedIn time.Time `json:"signed_in"`
}

// Users stores each user's Rights, written at every sign-in, so that a
// token acts with its user's current rights, never with those its user had
// when it was made: a user taken out of the admin group loses admin rights
// on all their tokens at their next sign-in.
type Users struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// NewUsers returns the rights store over rdb; a record lives ttl from the
// sign-in that wrote it (0: for ever). The caller owns rdb.
func NewUsers(rdb redis.UniversalClient, ttl time.Duration) *Users {
	return &Users{rdb: rdb, ttl: ttl}
}

// Put records u's rights as of a sign-in at at, replacing the last.
func (s *Users) Put(ctx context.Context, u User, at time.Time) error {
	data, err := json.Marshal(Rights{User: u, SignedIn: at.UTC()})
	if err != nil {
		return fmt.Errorf("record rights of %s: %w", u.Name, err)
	}
	if err := s.rdb.Set(ctx, rediskey.User(u.Name), data, s.ttl).Err(); err != nil {
		return fmt.Errorf("record rights of %s: %w", u.Name, err)
	}
	return nil
}

// Get returns name's rights as of their latest sign-in, or ErrNoRights.
func (s *Users) Get(ctx context.Context, name string) (*Rights, error) {
	var r Rights
	if err := getJSON(ctx, s.rdb, rediskey.User(name), &r, ErrNoRights); err != nil {
		if errors.Is(err, ErrNoRights) {
			return nil, err
		}
		return nil, fmt.Errorf("look up rights of %s: %w", name, err)
	}
	return &r, nil
}
