package chaos

import (
	"math/rand"
	"testing"
)

// TestTakeWorker checks that two faults never hold one worker at once:
// a worker being stopped is not handed out again until it is released.
func TestTakeWorker(t *testing.T) {
	t.Parallel()
	w := &world{workers: []*slot{{name: "a"}, {name: "b"}, {name: "c"}}}
	s := &soak{w: w, rng: rand.New(rand.NewSource(1)), stopping: map[*slot]bool{}}
	held := map[*slot]bool{}
	for range w.workers {
		sl := s.takeWorker()
		if sl == nil || held[sl] {
			t.Fatalf("takeWorker gave %v while holding %v", sl, held)
		}
		held[sl] = true
	}
	if sl := s.takeWorker(); sl != nil {
		t.Fatalf("takeWorker gave %s, which another fault holds", sl.name)
	}
	b := w.workers[1]
	s.releaseWorker(b)
	if sl := s.takeWorker(); sl != b {
		t.Fatalf("after releasing %s, takeWorker gave %v", b.name, sl)
	}
}
