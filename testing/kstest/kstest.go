// Package kstest gives tests Fedora's kickstarts: the snapshot of the
// fedora-kickstarts repository kept beside the project (../shared), as a
// directory, as a branch archive (.tar.gz) and served over loopback HTTP,
// as `fbs ks sync` fetches it.
package kstest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// FedoraDir is the directory of Fedora's kickstarts: $FBS_FEDORA_KICKSTARTS,
// else ../shared/fedora-kickstarts beside the project's checkout. Tests
// read it in place; it is never copied into the project. The test is
// skipped, saying why, when neither exists.
func FedoraDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("FBS_FEDORA_KICKSTARTS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "fedora-kickstarts")
	}
	if _, err := os.Stat(filepath.Join(dir, "fedora-live-base.ks")); err != nil {
		tb.Skipf("Fedora's kickstarts are not here (%v): set FBS_FEDORA_KICKSTARTS to a fedora-kickstarts checkout", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return abs
}

var archives sync.Map // directory + top -> []byte

// Archive is dir as a branch archive of its repository: a .tar.gz whose
// entries sit under one top directory, as pagure and GitHub serve them.
// It is made once per directory and top.
func Archive(tb testing.TB, dir, top string) []byte {
	tb.Helper()
	if b, ok := archives.Load(dir + "\x00" + top); ok {
		return b.([]byte)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join(top, rel))
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755})
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		tb.Fatalf("archive %s: %v", dir, err)
	}
	b, _ := archives.LoadOrStore(dir+"\x00"+top, buf.Bytes())
	return b.([]byte)
}

// Serve serves data at every path on a loopback HTTP server closed at the
// end of the test, and returns the server's URL.
func Serve(tb testing.TB, data []byte) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(data)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}
