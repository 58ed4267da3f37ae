package netnstest_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/fedora-fbs/fbs/testing/netnstest"
)

// TestIsolate checks what a test inside sees: loopback interfaces only,
// and LoopbackName resolving to 127.0.0.1.
func TestIsolate(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			t.Errorf("interface %s is not loopback", i.Name)
		}
	}
	addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip4", netnstest.LoopbackName)
	if err != nil || len(addrs) == 0 || addrs[0].Unmap() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("%s resolves to %v, %v; want 127.0.0.1", netnstest.LoopbackName, addrs, err)
	}
}
