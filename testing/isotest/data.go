package isotest

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// DataISO builds a plain ISO 9660 image (no boot records) in t.TempDir()
// holding one file of size pseudo-random bytes drawn from seed, and returns
// its path: the same size and seed give the same image content.
func DataISO(t testing.TB, size int64, seed uint64) string {
	t.Helper()
	requireTools(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data.bin")
	f, err := os.Create(data)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, uint64(size)))
	if _, err := io.CopyN(f, readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return len(p), nil
	}), size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "data-"+strconv.FormatInt(size, 10)+".iso")
	run(t, nil, "xorriso", "-outdev", iso, "-volid", "FBS_DATA", "-map", data, "/data.bin")
	if err := os.Remove(data); err != nil {
		t.Fatal(err)
	}
	return iso
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
