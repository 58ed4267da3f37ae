package hosttest_test

import (
	"net"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/testing/hosttest"
)

// TestHosts boots two hosts and checks that each runs systemd with its
// own name, reaches the other and the test's gateway, and has no route
// beyond the lab network.
func TestHosts(t *testing.T) {
	lab := hosttest.Start(t, "alpha", "beta")
	for _, h := range lab.Hosts {
		t.Logf("%s (%s) booted in %s", h.Name, h.Addr, h.BootTime)
		if got := strings.TrimSpace(lab.Run(t, h, "hostname")); got != h.Name {
			t.Errorf("hostname on %s = %q", h.Name, got)
		}
		if got := strings.TrimSpace(lab.Run(t, h, "readlink /proc/1/exe")); !strings.Contains(got, "systemd") {
			t.Errorf("PID 1 on %s is %q, want systemd", h.Name, got)
		}
		if got := lab.Run(t, h, "systemctl is-system-running --wait || true"); !strings.Contains(got, "running") && !strings.Contains(got, "degraded") {
			t.Errorf("systemd on %s: %q", h.Name, got)
		}
		if got := lab.Run(t, h, "ip route"); strings.Contains(got, "default") {
			t.Errorf("%s has a default route:\n%s", h.Name, got)
		}
	}
	alpha, beta := lab.Host(t, "alpha"), lab.Host(t, "beta")
	if got := lab.Run(t, alpha, "exec 3<>/dev/tcp/"+beta.Addr+"/22 && head -c 7 <&3"); got != "SSH-2.0" {
		t.Errorf("alpha reading beta's SSH banner: %q", got)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(lab.Gateway, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("gateway"))
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if got := lab.Run(t, beta, "exec 3<>/dev/tcp/"+lab.Gateway+"/"+port+" && cat <&3"); got != "gateway" {
		t.Errorf("beta reading from the test's gateway: %q", got)
	}
}
