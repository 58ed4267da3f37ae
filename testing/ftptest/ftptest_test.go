package ftptest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jlaffaye/ftp"
)

func TestStart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c, err := ftp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("anonymous", "test@"); err != nil {
		t.Fatalf("anonymous login: %v", err)
	}
	if err := c.Stor("/pub/hello.txt", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatalf("upload into pub/: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(s.Pub, "hello.txt"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("uploaded file: %q, %v", b, err)
	}
	r, err := c.Retr("/pub/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "hello" {
		t.Errorf("download: %q", got)
	}
	if err := c.Stor("/outside.txt", bytes.NewReader(nil)); err == nil {
		t.Error("upload outside pub/ was allowed")
	}
}
