package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/egress"
	"github.com/fedora-fbs/fbs/testing/netnstest"
)

// TestRunRefusesRebound runs builds whose boot ISO, staging and boot
// repository name a host that resolves to a loopback canary only on the
// worker, at build time (DNS rebinding past the submit check): the ISO
// download, the build's transfer and the upload of the failed build's log
// are all refused by the policy, and the canary is never reached. It runs
// in a loopback-only network namespace.
func TestRunRefusesRebound(t *testing.T) {
	if !netnstest.Isolate(t) {
		return
	}
	c := netnstest.NewCanary(t)
	port := c.Port
	host := netnstest.LoopbackName + ":" + port
	f := setup(t, false)
	const ks = "lang C\nkeyboard us\ntimezone UTC\n"

	// The ISO download is refused; the failed build's log goes to
	// staging, which is refused too.
	_, _, err := f.run(t, ksisoPayload("ftp://"+host+"/pub", "http://"+host+"/boot.iso", ks))
	if !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("ISO download: %v, want a refusal of the policy", err)
	}
	if n := strings.Count(err.Error(), "refused by the outbound address policy"); n != 2 {
		t.Errorf("want the download and the log upload refused, got: %v", err)
	}
	// A build from the ISO directory: its transfer is refused.
	res, _, err := f.run(t, ksisoPayload("ftp://"+host+"/pub", "boot.iso", ks))
	if !errors.Is(err, egress.ErrRefused) || res.Failed != tasks.StageTransfer {
		t.Errorf("transfer: failed %q: %v, want the transfer refused", res.Failed, err)
	}
	// lorax would fetch the boot repositories itself: they are checked
	// again before it runs.
	boot := &tasks.Payload{Owner: "t", Spec: tasks.Spec{Type: tasks.TypeBoot, Arch: "x86_64", Release: "41", Staging: f.staging,
		Boot: &tasks.BootSpec{Product: "Fedora", Release: "41", Version: "41", Repos: []tasks.Repo{{Name: "41", URL: "http://" + host + "/os/"}}}}}
	res, _, err = f.run(t, boot)
	if err == nil || !strings.Contains(err.Error(), "boot.41_url") || !strings.Contains(err.Error(), "refused by the outbound address policy") || res.Failed != tasks.StageBuild {
		t.Errorf("boot build: failed %q: %v, want the repository refused before lorax runs", res.Failed, err)
	}
	if n := c.Hits(); n != 0 {
		t.Fatalf("the canary was reached %d times", n)
	}
}
