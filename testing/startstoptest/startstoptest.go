// Package startstoptest checks that a background service has the life
// cycle of tasks/startstop: Stop returns when Start never ran, and a second
// Stop returns too, before or after a Start.
package startstoptest

import (
	"context"
	"testing"
	"time"
)

// Service is a background loop with the shared life cycle.
type Service interface {
	Start(ctx context.Context)
	Stop()
}

// Run checks, in parallel subtests, that services made by newService
// tolerate Stop without Start and Stop twice; each case fails if it does
// not return within 10 s.
func Run(t *testing.T, newService func(t *testing.T) Service) {
	t.Helper()
	cases := []struct {
		name string
		run  func(s Service)
	}{
		{"stop without start", func(s Service) { s.Stop() }},
		{"stop twice without start", func(s Service) { s.Stop(); s.Stop() }},
		{"stop twice", func(s Service) { s.Start(context.Background()); s.Stop(); s.Stop() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newService(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.run(s)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("hung")
			}
		})
	}
}
