package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/kickstarts"
	"github.com/fedora-fbs/fbs/monitor/notify"
)

// TestKickstartSecretsRedacted runs a real build of a kickstart holding
// every kind of secret, with a tool that prints the kickstart into the
// build log, and checks that the log (as `fbs logs` reads it, and as
// staged) and the completion mail never hold a secret, while the kickstart
// staged for the user keeps them.
func TestKickstartSecretsRedacted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	secrets := []string{"Hunter2Root", "UserSecret1", "GrubSecret1", "SshSecret1", "LuksSecret1", "Quoted Secret"}
	e.write(filepath.Join(e.ksDir, "main.ks"), `text
lang en_US.UTF-8
timezone UTC --utc
rootpw --plaintext Hunter2Root
user --name=alice --password=UserSecret1 --plaintext
user --name=bob --iscrypted --password 'Quoted Secret'
bootloader --location=mbr --password=GrubSecret1
sshpw --username=root --plaintext SshSecret1
autopart --encrypted --passphrase LuksSecret1
%packages
@core
%end
`)
	real, err := exec.LookPath("xorriso")
	if err != nil {
		t.Fatal("xorriso not installed: apt-get install xorriso")
	}
	// A tool that echoes the kickstart it is given, as some do.
	e.wrapper = filepath.Join(e.dir, "wrapper", "xorriso")
	e.write(e.wrapper, fmt.Sprintf(`#!/bin/sh
prev=
for a in "$@"; do
  if [ "$prev" = "-map" ] && [ -f "$a" ]; then echo "wrapper: mapping $a:"; cat "$a"; fi
  prev=$a
done
exec %s "$@"
`, real))
	if err := os.Chmod(e.wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	e.worker("host1")
	listen := freeAddr(t)
	monCfg := e.config("monitor", "")
	e.startReady("serving", "monitor", "--config", monCfg, "--listen", listen)
	cfg := e.config("client", "")
	out, errs, code := e.run("submit", "--config", cfg, "--wait", e.spec("s.conf", "x86_64", "boot.iso"))
	if code != 0 {
		t.Fatalf("build: %s\n%s", errs, out)
	}
	id := strings.SplitN(out, "\n", 2)[0]
	logText, errs, code := e.run("logs", "--config", cfg, id)
	if code != 0 {
		t.Fatalf("logs: %s", errs)
	}
	if !strings.Contains(logText, "wrapper: mapping") || !strings.Contains(logText, "rootpw --plaintext "+kickstarts.Mask) {
		t.Fatalf("the tool's echo of the kickstart is not in the log:\n%s", logText)
	}
	staged, err := os.ReadFile(filepath.Join(e.staging, id, "build.log"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := filepath.Glob(filepath.Join(e.staging, id, "*.ks"))
	if err != nil || len(ks) != 1 {
		t.Fatalf("staged kickstart: %v %v", ks, err)
	}
	stagedKS, err := os.ReadFile(ks[0])
	if err != nil {
		t.Fatal(err)
	}
	var mails strings.Builder
	outbox := filepath.Join(e.dir, "monitor", "data", "outbox")
	e.waitFor(30*time.Second, "both mails in the outbox", func() bool {
		msgs, _ := notify.Outbox(outbox)
		return len(msgs) == 2
	})
	msgs, _ := notify.Outbox(outbox)
	for _, m := range msgs {
		b, err := os.ReadFile(filepath.Join(outbox, m.Name))
		if err != nil {
			t.Fatal(err)
		}
		mails.Write(b)
	}
	for _, s := range secrets {
		if strings.Contains(logText, s) || strings.Contains(string(staged), s) {
			t.Errorf("the build log holds %q", s)
		}
		if strings.Contains(mails.String(), s) {
			t.Errorf("a mail holds %q", s)
		}
		if !strings.Contains(string(stagedKS), s) {
			t.Errorf("the staged kickstart lacks %q", s)
		}
	}
}
