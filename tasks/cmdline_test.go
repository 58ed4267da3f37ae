package tasks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestCheckKernelCmdline(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "console=ttyS0,115200 inst.text ip=dhcp rd.live.check", `inst.cmdline="x y"`,
		"ip=192.168.1.2::192.168.1.1:255.255.255.0:host:eth0:none", "rd.lvm.lv=fedora/root inst.repo=https://dl.example/os/ %x@+!~^"} {
		if err := tasks.CheckKernelCmdline(ok); err != nil {
			t.Errorf("tasks.CheckKernelCmdline(%q) = %v, want accepted", ok, err)
		}
	}
	for _, bad := range []string{"a\nb", "a\rb", "a\x00b", "a\tb", "a\x7fb", "a;b", "a{b", "a}b", "$x", "${x}", `a\b`, "'a'",
		`"a`, "a#b", "a|b", "a&b", "a<b", "a>b", "a`b`", "a[b]", "a*", "a?", "\u00e9", strings.Repeat("x", tasks.MaxCmdline+1)} {
		if err := tasks.CheckKernelCmdline(bad); err == nil {
			t.Errorf("tasks.CheckKernelCmdline(%q) accepted", bad)
		}
	}
	s := tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///s",
		KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "a.ks", Cmdline: "quiet\nmenuentry evil {"}}
	var errs tasks.Errors
	if err := s.Validate(); !errors.As(err, &errs) || len(errs) != 1 || errs[0].Field != tasks.FieldCmdline {
		t.Errorf("Validate = %v, want one error of %s", err, tasks.FieldCmdline)
	}
}

func FuzzCheckKernelCmdline(f *testing.F) {
	f.Add("console=ttyS0,115200 inst.text")
	f.Add("a\nmenuentry x {")
	f.Fuzz(func(t *testing.T, s string) {
		if tasks.CheckKernelCmdline(s) != nil {
			return
		}
		if strings.ContainsAny(s, "\n\r\x00;{}$\\'`#") || strings.Count(s, `"`)%2 != 0 || len(s) > tasks.MaxCmdline {
			t.Fatalf("accepted %q", s)
		}
	})
}
