package webapp

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzFormDraft feeds arbitrary values to the form-to-spec translation: it
// must never panic, and a value must never turn into more than itself (an
// INI line break smuggling a key, a section, a comment).
func FuzzFormDraft(f *testing.F) {
	f.Add("ksiso", "x86_64", "file:///srv/out", "quiet", "boot.iso", "a.ks")
	f.Add("ksiso", "x86_64", "sftp://u@h/d", "a\n[boot]\nproduct=x", "b.iso", "a.ks")
	f.Add("live", "i686", "10.0.0.27", "`x`", "#x", ";y")
	f.Add("boot", "aarch64", "ftp://h/d", "\"q\"", "  b.iso  ", "a b")
	f.Add("ksiso", "x86_64", "file:///srv/out", "\"q\"", "'b.iso'", "a.ks")
	f.Add("ksiso", "x86_64", "file:///srv/out", "`a` b `c`", "b.iso", "a.ks")
	f.Add("ksiso", "x86_64", "file:///srv/out", "a'", "b.iso", "a.ks")
	f.Fuzz(func(t *testing.T, typ, arch, staging, cmdline, iso, ks string) {
		v := url.Values{"type": {typ}, "arch": {arch}, "release": {"41"}, "staging": {staging},
			"ksiso_cmdline": {cmdline}, "ksiso_iso": {iso}, "ks_source": {"standard"}, "ks_standard": {ks},
			"live_label": {cmdline}, "live_builder": {"livemedia-creator"}, "live_releasever": {"41"}}
		d, err := (&Server{}).formDraft(v, nil, nil)
		if err != nil {
			return
		}
		sp := d.spec
		if sp.Staging != strings.TrimSpace(staging) {
			t.Errorf("staging %q became %q", staging, sp.Staging)
		}
		if sp.KSISO != nil && sp.KSISO.Cmdline != strings.TrimSpace(cmdline) {
			t.Errorf("cmdline %q became %q", cmdline, sp.KSISO.Cmdline)
		}
		if string(sp.Type) != typ {
			t.Errorf("type %q became %q", typ, sp.Type)
		}
	})
}
