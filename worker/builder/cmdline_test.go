package builder

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestUdevEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Fedora-S-dvd-x86_64-41", "Fedora-S-dvd-x86_64-41"},
		{"Fedora 41 x86_64", `Fedora\x2041\x20x86_64`},
		{"a/b(c)", `a\x2fb\x28c\x29`},
		{"tab\there", `tab\x09here`},
		{"k#+.:=@_-", "k#+.:=@_-"},
	}
	for _, tt := range tests {
		if got := udevEscape(tt.in); got != tt.want {
			t.Errorf("udevEscape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "  quiet  ", want: []string{"quiet"}},
		{in: `initrd=initrd.img inst.stage2=hd:LABEL=F\x2041 quiet`, want: []string{"initrd=initrd.img", `inst.stage2=hd:LABEL=F\x2041`, "quiet"}},
		{in: "a=\"x y\"\tb", want: []string{`a="x y"`, "b"}},
		{in: `a="x`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("splitArgs(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitArgs(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestKernelEditLine(t *testing.T) {
	t.Parallel()
	e := kernelEdit{remove: []string{"inst.ks"}, add: []string{"inst.ks=hd:LABEL=X:/ks.cfg", "inst.text"}}
	tests := []struct {
		name       string
		line       string
		cmds       []string
		needInitrd bool
		want       string
		changed    bool
	}{
		{"isolinux append", "  append initrd=initrd.img quiet", isolinuxCmds, true,
			"  append initrd=initrd.img quiet inst.ks=hd:LABEL=X:/ks.cfg inst.text", true},
		{"old inst.ks replaced", "\tappend initrd=i.img inst.ks=hd:LABEL=old:/old.ks quiet", isolinuxCmds, true,
			"\tappend initrd=i.img quiet inst.ks=hd:LABEL=X:/ks.cfg inst.text", true},
		{"append without initrd", "  append -", isolinuxCmds, true, "  append -", false},
		{"kernel line untouched", "  kernel vmlinuz", isolinuxCmds, true, "  kernel vmlinuz", false},
		{"grub linuxefi", "\tlinuxefi /images/pxeboot/vmlinuz quiet", grubCmds, false,
			"\tlinuxefi /images/pxeboot/vmlinuz quiet inst.ks=hd:LABEL=X:/ks.cfg inst.text", true},
		{"grub linux with tab", "linux\t/vmlinuz quiet", grubCmds, false,
			"linux /vmlinuz quiet inst.ks=hd:LABEL=X:/ks.cfg inst.text", true},
		{"grub initrd untouched", "\tinitrdefi /images/pxeboot/initrd.img", grubCmds, false,
			"\tinitrdefi /images/pxeboot/initrd.img", false},
		{"word only inside line", "menuentry 'linux' {", grubCmds, false, "menuentry 'linux' {", false},
	}
	for _, tt := range tests {
		got, changed, err := e.line(tt.line, tt.cmds, tt.needInitrd)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want || changed != tt.changed {
			t.Errorf("%s: line(%q) = %q, %v; want %q, %v", tt.name, tt.line, got, changed, tt.want, tt.changed)
		}
	}
}

func TestKsEditRejectsInstKS(t *testing.T) {
	t.Parallel()
	if _, err := ksEdit("V", &tasks.KSISOSpec{Cmdline: "inst.ks=http://x/ks.cfg"}); err == nil || !strings.Contains(err.Error(), "inst.ks") {
		t.Errorf("ksEdit with inst.ks in cmdline: err = %v, want one naming inst.ks", err)
	}
	if _, err := ksEdit("V", &tasks.KSISOSpec{Cmdline: `a="b`}); err == nil || !strings.Contains(err.Error(), "[ksiso] cmdline") {
		t.Errorf("ksEdit with unbalanced quote: err = %v, want one naming [ksiso] cmdline", err)
	}
}

func FuzzKernelEdit(f *testing.F) {
	f.Add("  append initrd=initrd.img inst.stage2=hd:LABEL=F\\x2041 quiet\nlabel x\n")
	f.Add("\tlinuxefi /vmlinuz a=\"b c\" inst.ks=x\r\n")
	f.Add("linux\t\t/vmlinuz\n")
	e := kernelEdit{remove: []string{"inst.ks"}, add: []string{"inst.ks=hd:LABEL=X:/ks.cfg"}}
	f.Fuzz(func(t *testing.T, text string) {
		for _, c := range []struct {
			cmds []string
			need bool
		}{{isolinuxCmds, true}, {grubCmds, false}} {
			out, n, err := e.config(text, c.cmds, c.need)
			if err != nil {
				continue
			}
			if got := strings.Count(out, "\n"); got != strings.Count(text, "\n") {
				t.Fatalf("config changed the number of lines: %d -> %d", strings.Count(text, "\n"), got)
			}
			if got := strings.Count(out, "inst.ks=hd:LABEL=X:/ks.cfg"); got < n {
				t.Fatalf("%d lines reported patched, %d carry inst.ks", n, got)
			}
			again, _, err := e.config(out, c.cmds, c.need)
			if err != nil {
				t.Fatalf("editing the edited text: %v", err)
			}
			if again != out {
				t.Fatalf("edit is not idempotent:\n%q\n%q", out, again)
			}
		}
	})
}
