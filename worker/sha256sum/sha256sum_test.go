package sha256sum_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/worker/sha256sum"
)

func TestFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		data string
		want string
	}{
		// FIPS 180-2 examples and the empty file.
		{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"two blocks", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"a million a", strings.Repeat("a", 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := sha256sum.File(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("File = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestFileAsCoreutils compares with the sha256sum command on a file of
// several copy buffers.
func TestFileAsCoreutils(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("no sha256sum command")
	}
	path := filepath.Join(t.TempDir(), "data")
	b := make([]byte, 3<<20+17)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, path).Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sha256sum.File(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(string(out))[0]; got != want {
		t.Errorf("File = %s, sha256sum says %s", got, want)
	}
}

func TestFileMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.iso")
	_, err := sha256sum.File(context.Background(), path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("File of a missing file: %v, want an error naming %s", err, path)
	}
}

// endless yields zeros for ever, through WriteTo as SFTP files do.
type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }
func (endless) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		m, err := w.Write(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
}

// TestReaderStops: a stream that never ends is given up once ctx ends,
// whether it is read or writes itself out.
func TestReaderStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"WriterTo", endless{}},
		{"Reader", io.LimitReader(endless{}, 1<<62)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := sha256sum.Reader(ctx, tt.r); !errors.Is(err, context.Canceled) {
				t.Errorf("Reader after cancel: %v, want context.Canceled", err)
			}
		})
	}
}
