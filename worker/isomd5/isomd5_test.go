package isomd5_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedora-fbs/fbs/testing/isomd5test"
	"github.com/fedora-fbs/fbs/testing/isotest"
	"github.com/fedora-fbs/fbs/worker/isomd5"
)

// copyTo copies file into dir as name and returns the copy's path.
func copyTo(t *testing.T, file, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != len(g) {
		t.Fatalf("implantisomd5 left %d bytes, Implant %d", len(w), len(g))
	}
	if i := firstDiff(w, g); i >= 0 {
		t.Fatalf("first difference from implantisomd5's output at byte %d: want %q, got %q", i, w[i:min(i+64, len(w))], g[i:min(i+64, len(g))])
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestImplantMatchesImplantisomd5 implants the same images with the real
// implantisomd5 and with Implant, expects identical files, and has the real
// checkisomd5 pass Implant's. The sizes put the fragment boundaries at
// different places within implantisomd5's 32 KiB blocks.
func TestImplantMatchesImplantisomd5(t *testing.T) {
	isomd5test.RequireTools(t)
	for _, size := range []int64{1 << 20, 3<<20 + 12345, 17<<20 + 4096*7} {
		iso := isotest.DataISO(t, size, 1)
		for _, tc := range []struct {
			name  string
			opts  isomd5.Options
			flags []string
		}{
			{name: "defaults"},
			{name: "supported", opts: isomd5.Options{Supported: true}, flags: []string{"--supported-iso"}},
		} {
			t.Run(filepath.Base(iso)+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				ref := copyTo(t, iso, dir, "ref.iso")
				got := copyTo(t, iso, dir, "got.iso")
				isomd5test.Implant(t, ref, tc.flags...)
				sums, err := tc.opts.Implant(context.Background(), got)
				if err != nil {
					t.Fatal(err)
				}
				if len(sums.MD5) != 32 || len(sums.FragmentSums) != 60 {
					t.Errorf("sums %+v: want 32 MD5 digits and 60 fragment digits", sums)
				}
				sameFiles(t, ref, got)
				if ok, out := isomd5test.Check(t, got); !ok {
					t.Fatalf("checkisomd5 failed on Implant's output:\n%s", out)
				}
			})
		}
	}
}

// TestImplantForce implants twice: the second time needs Force, as
// implantisomd5 needs --force, and then gives implantisomd5 --force's bytes.
func TestImplantForce(t *testing.T) {
	isomd5test.RequireTools(t)
	iso := isotest.DataISO(t, 2<<20, 2)
	dir := t.TempDir()
	ref := copyTo(t, iso, dir, "ref.iso")
	got := copyTo(t, iso, dir, "got.iso")
	isomd5test.Implant(t, ref)
	if _, err := isomd5.Implant(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	// Change the image under the area, so the forced sum differs.
	for _, p := range []string{ref, got} {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("changed"), 1<<20); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if _, err := isomd5.Implant(context.Background(), got); !errors.Is(err, isomd5.ErrAppDataUsed) {
		t.Fatalf("second Implant without Force: got %v, want ErrAppDataUsed", err)
	}
	isomd5test.Implant(t, ref, "--force")
	if _, err := (isomd5.Options{Force: true}).Implant(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, ref, got)
	if ok, out := isomd5test.Check(t, got); !ok {
		t.Fatalf("checkisomd5 failed after a forced Implant:\n%s", out)
	}
}

// TestCheckisomd5SeesCorruption makes sure the media check in these tests
// can fail: one byte changed after Implant fails it.
func TestCheckisomd5SeesCorruption(t *testing.T) {
	isomd5test.RequireTools(t)
	iso := copyTo(t, isotest.DataISO(t, 2<<20, 3), t.TempDir(), "x.iso")
	if _, err := isomd5.Implant(context.Background(), iso); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(iso, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 1<<20); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if ok, out := isomd5test.Check(t, iso); ok {
		t.Fatalf("checkisomd5 passed a corrupted image:\n%s", out)
	}
}

// TestSummerWriteSizes feeds an image in writes of random sizes, as a
// tool's output arrives, and expects the sums of one file read.
func TestSummerWriteSizes(t *testing.T) {
	iso := copyTo(t, isotest.DataISO(t, 3<<20+999, 4), t.TempDir(), "x.iso")
	data, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	want, err := isomd5.Implant(context.Background(), iso)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	s := isomd5.Options{}.NewSummer()
	for p := data; len(p) > 0; {
		n := min(len(p), 1+r.IntN(100_000))
		if _, err := s.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	got, err := s.Sums()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Summer gave %+v, Implant %+v", got, want)
	}
}

func TestImplantRefusesNonISO(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"zeros", make([]byte, 1<<20)},
		{"short", []byte("CD001")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.iso")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := isomd5.Implant(context.Background(), p)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte("primary volume descriptor")) {
				t.Fatalf("got %v, want an error about the primary volume descriptor", err)
			}
			if b, _ := os.ReadFile(p); !bytes.Equal(b, tc.data) {
				t.Fatal("the file was changed")
			}
		})
	}
}

func TestImplantCancelled(t *testing.T) {
	iso := copyTo(t, isotest.DataISO(t, 1<<20, 7), t.TempDir(), "x.iso")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := isomd5.Implant(ctx, iso); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
