package kickstarts

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkFlattenCorpus flattens every top-level kickstart of the Fedora
// corpus (reading the files each time, as the CLI does) per iteration.
func BenchmarkFlattenCorpus(b *testing.B) {
	dir := corpusDir(b)
	var files []string
	for _, rel := range corpusFiles(b, dir) {
		if !strings.Contains(rel, "/") {
			files = append(files, filepath.Join(dir, rel))
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range files {
			// The two known-bad files fail, timed all the same.
			_, _ = Flatten(ctx, f, Options{})
		}
	}
	b.ReportMetric(float64(len(files)), "files/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(files))/1e3, "µs/file")
}

// TestFlattenMemory bounds the memory one flatten of the largest corpus
// tree allocates.
func TestFlattenMemory(t *testing.T) {
	dir := corpusDir(t)
	path := filepath.Join(dir, "fedora-live-kde.ks")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := Flatten(context.Background(), path, Options{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("flattening %s allocated %d bytes, want under 8 MiB", path, got)
	}
}
