package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStagingCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwords")
	if err := os.WriteFile(pw, []byte("# staging hosts\nftp.example.org s3cret\nsftp.example.org:2222 other pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "fbs.conf")
	if err := os.WriteFile(cfgFile, []byte("[staging]\nhost_keys = a.example.org=SHA256:abc, b.example.org:2222=SHA256:def\npasswords_file = "+pw+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfgFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"a.example.org": "SHA256:abc", "b.example.org:2222": "SHA256:def"}, c.Staging.HostKeyMap()); diff != "" {
		t.Errorf("HostKeyMap (-want +got):\n%s", diff)
	}
	got, err := c.Staging.Passwords()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"ftp.example.org": "s3cret", "sftp.example.org:2222": "other pass"}, got); diff != "" {
		t.Errorf("Passwords (-want +got):\n%s", diff)
	}
	if strings.Contains(c.Dump(), "s3cret") {
		t.Error("Dump shows a staging password")
	}

	if err := os.WriteFile(pw, []byte("ftp.example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Staging.Passwords(); err == nil || !strings.Contains(err.Error(), pw+":1") {
		t.Errorf("malformed passwords file: %v, want an error naming %s:1", err, pw)
	}

	if err := os.WriteFile(cfgFile, []byte("[staging]\nhost_keys = a.example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(cfgFile, nil); err == nil || !strings.Contains(err.Error(), "host_keys") {
		t.Errorf("bad host_keys: %v", err)
	}
}
