package redisurl_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks/redisurl"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want redis.UniversalOptions
	}{
		{"redis://127.0.0.1:6379/0", redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}}},
		{"redis://redis.example.org", redis.UniversalOptions{Addrs: []string{"redis.example.org:6379"}}},
		{"redis://:pw@h:7000/3", redis.UniversalOptions{Addrs: []string{"h:7000"}, Password: "pw", DB: 3}},
		{"redis://fbs:pw@[::1]:7000/1", redis.UniversalOptions{Addrs: []string{"[::1]:7000"}, Username: "fbs", Password: "pw", DB: 1}},
		{"rediss://h/2", redis.UniversalOptions{Addrs: []string{"h:6379"}, DB: 2,
			TLSConfig: &tls.Config{ServerName: "h", MinVersion: tls.VersionTLS12}}},
		{"unix:///run/fbs/redis.sock", redis.UniversalOptions{Addrs: []string{"/run/fbs/redis.sock"}}},
		{"unix://:pw@/run/fbs/redis.sock?db=4", redis.UniversalOptions{Addrs: []string{"/run/fbs/redis.sock"}, Password: "pw", DB: 4}},
		{"redis-sentinel://10.1.0.1:26379,10.1.0.2,10.1.0.3:26380/mymaster/2",
			redis.UniversalOptions{Addrs: []string{"10.1.0.1:26379", "10.1.0.2:26379", "10.1.0.3:26380"}, MasterName: "mymaster", DB: 2}},
		{"redis-sentinel://:pw@s1:1,s2:2/m?sentinel_password=spw",
			redis.UniversalOptions{Addrs: []string{"s1:1", "s2:2"}, MasterName: "m", Password: "pw", SentinelPassword: "spw"}},
		// asynq's spelling: the password is the sentinels'.
		{"redis-sentinel://:spw@s1:1,s2:2?master=m",
			redis.UniversalOptions{Addrs: []string{"s1:1", "s2:2"}, MasterName: "m", SentinelPassword: "spw"}},
	}
	for _, tt := range tests {
		got, err := redisurl.Parse(tt.url)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.url, err)
			continue
		}
		if diff := cmp.Diff(&tt.want, got, cmpopts.IgnoreUnexported(tls.Config{})); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.url, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, want string }{
		{"http://h", `http://h: scheme "http" (want redis, rediss, unix or redis-sentinel)`},
		{"redis://:secret@h:notaport/0", `redis://:xxxxx@h:notaport/0: invalid port ":notaport" after host`},
		{"redis://:secret@h:70000/0", `redis://:xxxxx@h:70000/0: host "h:70000": port "70000" is not a number from 1 to 65535`},
		{"redis://h/x", `redis://h/x: database "x" is not a number of 0 or more`},
		{"redis:///0", `redis:///0: no host`},
		{"unix://h/run/redis.sock", `unix://h/run/redis.sock: unix URL with host "h": want unix:///path/to/socket`},
		{"unix:///run/redis.sock?pool=3", `unix:///run/redis.sock: unknown parameter "pool" (known: db)`},
		{"redis-sentinel://:secret@s1:1,s2:2", `redis-sentinel://:xxxxx@s1:1,s2:2: no master name (want redis-sentinel://host:port,host:port/master-name/db)`},
		{"redis-sentinel://s1:1,,s2:2/m", `redis-sentinel://s1:1,,s2:2/m: empty host in the host list`},
		{"redis-sentinel://s1/m/0/1", `redis-sentinel://s1/m/0/1: path "/m/0/1": want /master-name[/db]`},
		{"redis-sentinel://s1/m?master=n", `redis-sentinel://s1/m: master name both in the path and in ?master=`},
		{"redis-sentinel://s1/m?password=x", `redis-sentinel://s1/m: unknown parameter "password" (known: master, sentinel_password)`},
		{"redis-sentinel://s1/m/-1", `redis-sentinel://s1/m/-1: database "-1" is not a number of 0 or more`},
	}
	for _, tt := range tests {
		_, err := redisurl.Parse(tt.url)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want %q", tt.url, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error\n got %q\nwant %q", tt.url, err, tt.want)
		}
	}
}

// FuzzParse checks that no URL panics the parser and that no error
// repeats a password.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"redis://:pw@h:1/0", "redis-sentinel://:pw@a,b:2/m/1?sentinel_password=sp",
		"unix://:pw@/x?db=1", "rediss://u:p@[::1]/", "redis-sentinel://:pw@a?master=m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := redisurl.Parse(raw)
		if err == nil {
			return
		}
		for _, secret := range []string{"pw", "sp"} {
			if strings.Contains(raw, ":"+secret+"@") && strings.Contains(err.Error(), ":"+secret+"@") {
				t.Fatalf("Parse(%q) error shows the password: %v", raw, err)
			}
		}
	})
}
