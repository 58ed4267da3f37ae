package tasks_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestCheckVolID(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"Fedora-S-dvd-x86_64-41", "KS_1.0+x", strings.Repeat("A", tasks.MaxVolID)} {
		if err := tasks.CheckVolID(ok); err != nil {
			t.Errorf("CheckVolID(%q) = %v, want accepted", ok, err)
		}
	}
	for _, bad := range []string{"", "Test Only", "a'b", "a:b", "a=b", `a\x20`, "a\nb", "é", "a;b", "a{b", strings.Repeat("A", tasks.MaxVolID+1)} {
		if err := tasks.CheckVolID(bad); err == nil {
			t.Errorf("CheckVolID(%q) accepted", bad)
		}
	}
}

func TestCheckRmArgs(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"quiet", "quiet rhgb  console", "rd.live.check inst.ks"} {
		if err := tasks.CheckRmArgs(ok); err != nil {
			t.Errorf("CheckRmArgs(%q) = %v, want accepted", ok, err)
		}
	}
	for _, bad := range []string{"console=ttyS0", `"quiet"`, "quiet\nmenuentry x {", "a;b", "a$b"} {
		if err := tasks.CheckRmArgs(bad); err == nil {
			t.Errorf("CheckRmArgs(%q) accepted", bad)
		}
	}
}

func TestCheckISOName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"updates.img", "extra-repo", "root.tar.xz", "a+b_c"} {
		if err := tasks.CheckISOName(ok); err != nil {
			t.Errorf("CheckISOName(%q) = %v, want accepted", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "-rm_r", "a/b", "../etc", "/etc/passwd", `a\b`, "a b", "ks.cfg", "KS.CFG",
		"fbs-side", "a\x00", strings.Repeat("a", tasks.MaxFileName+1)} {
		if err := tasks.CheckISOName(bad); err == nil {
			t.Errorf("CheckISOName(%q) accepted", bad)
		}
	}
}

func TestCheckReplaceWord(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"console=ttyUSB0", "Install", "inst.stage2=hd:LABEL=X"} {
		if err := tasks.CheckReplaceWord(ok); err != nil {
			t.Errorf("CheckReplaceWord(%q) = %v, want accepted", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", `"`, "'", "}", "x\nmenuentry", "a;b", "$x", "#", strings.Repeat("x", tasks.MaxName+1)} {
		if err := tasks.CheckReplaceWord(bad); err == nil {
			t.Errorf("CheckReplaceWord(%q) accepted", bad)
		}
	}
}

// TestKSISOOptionsValidate checks that Spec.Validate reports each option's
// problem under its field, once.
func TestKSISOOptionsValidate(t *testing.T) {
	t.Parallel()
	base := func() tasks.Spec {
		return tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41", Staging: "file:///s",
			KSISO: &tasks.KSISOSpec{ISO: "boot.iso", Config: "a.ks"}}
	}
	for _, tt := range []struct {
		name string
		set  func(*tasks.KSISOSpec)
		want []string
	}{
		{"all good", func(k *tasks.KSISOSpec) {
			k.RmArgs, k.Updates, k.Add, k.VolID = "quiet", "updates.img", []string{"repo", "root.tar.xz"}, "KS-41"
			k.Replace = []tasks.Replace{{From: "ttyUSB0", To: "ttyS0"}}
		}, nil},
		{"rm_args value", func(k *tasks.KSISOSpec) { k.RmArgs = "console=tty0" }, []string{tasks.FieldRmArgs}},
		{"volid blank", func(k *tasks.KSISOSpec) { k.VolID = "a b" }, []string{tasks.FieldVolID}},
		{"volid long", func(k *tasks.KSISOSpec) { k.VolID = strings.Repeat("v", 33) }, []string{tasks.FieldVolID}},
		{"updates path", func(k *tasks.KSISOSpec) { k.Updates = "/srv/u.img" }, []string{tasks.FieldUpdates}},
		{"add path", func(k *tasks.KSISOSpec) { k.Add = []string{"ok", "../x", "/y"} }, []string{tasks.FieldAdd}},
		{"add twice", func(k *tasks.KSISOSpec) { k.Updates, k.Add = "u.img", []string{"U.img"} }, []string{tasks.FieldAdd}},
		{"add too many", func(k *tasks.KSISOSpec) {
			for i := range tasks.MaxAdd + 1 {
				k.Add = append(k.Add, fmt.Sprintf("f%d", i))
			}
		}, []string{tasks.FieldAdd}},
		{"replace entry", func(k *tasks.KSISOSpec) {
			k.Replace = []tasks.Replace{{From: "quiet", To: "quiet'\nmenuentry 'evil' {"}}
		}, []string{tasks.FieldReplace}},
		{"replace empty", func(k *tasks.KSISOSpec) { k.Replace = []tasks.Replace{{From: "", To: "x"}} }, []string{tasks.FieldReplace}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base()
			tt.set(s.KSISO)
			var got []string
			var errs tasks.Errors
			if err := s.Validate(); errors.As(err, &errs) {
				for _, e := range errs {
					got = append(got, e.Field)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s", diff)
			}
			if (s.KSISO.CheckOptions() == nil) != (len(tt.want) == 0 || tt.name == "add too many") {
				t.Errorf("CheckOptions = %v, disagrees with Validate", s.KSISO.CheckOptions())
			}
		})
	}
}
