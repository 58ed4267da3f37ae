package remote

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ids returns the numeric IDs of the user owner and the group group on
// the host. They are read from its /etc/passwd and /etc/group over SFTP
// once per connection; names those files lack (a directory service) are
// asked of getent.
func (c *Conn) ids(ctx context.Context, owner, group string) (uid, gid int, err error) {
	c.mu.Lock()
	loaded := c.users != nil
	c.mu.Unlock()
	if !loaded {
		passwd, err := c.ReadFile(ctx, "/etc/passwd")
		if err != nil {
			return 0, 0, fmt.Errorf("look up users: %w", err)
		}
		groups, err := c.ReadFile(ctx, "/etc/group")
		if err != nil {
			return 0, 0, fmt.Errorf("look up groups: %w", err)
		}
		c.mu.Lock()
		c.users, c.groups = parseIDs(passwd), parseIDs(groups)
		c.mu.Unlock()
	}
	if uid, err = c.id(ctx, "passwd", owner); err != nil {
		return 0, 0, err
	}
	if gid, err = c.id(ctx, "group", group); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// id looks name up in the cache of db (passwd or group), then with getent.
func (c *Conn) id(ctx context.Context, db, name string) (int, error) {
	c.mu.Lock()
	m := c.users
	if db == "group" {
		m = c.groups
	}
	n, ok := m[name]
	c.mu.Unlock()
	if ok {
		return n, nil
	}
	out, err := c.Run(ctx, "getent "+db+" "+Quote(name))
	if err != nil {
		return 0, fmt.Errorf("no %s %q on the host: %w", map[string]string{"passwd": "user", "group": "group"}[db], name, err)
	}
	ids := parseIDs(out)
	n, ok = ids[name]
	if !ok {
		return 0, fmt.Errorf("getent %s %s printed %q", db, name, out)
	}
	c.mu.Lock()
	m[name] = n
	c.mu.Unlock()
	return n, nil
}

// parseIDs reads name:x:id:... lines, the format of /etc/passwd and
// /etc/group.
func parseIDs(b []byte) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, ":", 4)
		if len(f) < 3 {
			continue
		}
		if n, err := strconv.Atoi(f[2]); err == nil && f[0] != "" {
			if _, dup := m[f[0]]; !dup {
				m[f[0]] = n
			}
		}
	}
	return m
}
