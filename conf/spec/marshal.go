package spec

import (
	"bytes"
	"strings"
	"unicode"

	"github.com/fedora-fbs/fbs/tasks"
)

// Marshal renders a spec as INI text in the format Parse reads: [DEFAULT]
// and the section of the spec's type, keys in a fixed order, booleans as 0
// or 1, lists joined by semicolons, empty values left out (so Parse reports
// a required one as missing: the web form is written with Marshal too). Resubmission and the /rest API use it,
// so Parse(Marshal(s)) gives s back for every spec Parse produced.
func Marshal(s *tasks.Spec) []byte {
	var w writer
	w.header(defaultSection)
	w.key("type", string(s.Type))
	w.key("arch", s.Arch)
	w.key("release", s.Release)
	w.key("staging", s.Staging)
	w.key("email", s.Email)
	w.header(string(s.Type))
	switch s.Type {
	case tasks.TypeBoot:
		if b := s.Boot; b != nil {
			w.key("product", b.Product)
			w.key("release", b.Release)
			w.key("version", b.Version)
			w.boolean("updates", b.Updates)
			w.boolean("updates-testing", b.UpdatesTesting)
			for _, r := range b.Repos {
				w.key(r.Name+"_url", r.URL)
				w.key(r.Name+"_mirror", r.Mirror)
			}
			w.key("proxy", b.Proxy)
		}
	case tasks.TypeDVD:
		if d := s.DVD; d != nil {
			w.key("name", d.Name)
			w.key("version", d.Version)
			w.key("flavor", d.Flavor)
			w.key("config", d.Config)
			w.key("bugurl", d.BugURL)
			w.boolean("nosource", d.NoSource)
			w.boolean("sourceisos", d.SourceISOs)
			w.boolean("force", d.Force)
			w.key("stage", d.Stage)
		}
	case tasks.TypeLive:
		if l := s.Live; l != nil {
			w.key("label", l.Label)
			w.key("title", l.Title)
			w.key("product", l.Product)
			w.key("releasever", l.ReleaseVer)
			w.key("config", l.Config)
			w.key("builder", l.Builder)
		}
	case tasks.TypeKSISO:
		if k := s.KSISO; k != nil {
			w.key("iso", k.ISO)
			w.key("config", k.Config)
			w.key("cmdline", k.Cmdline)
			w.key("rm_args", k.RmArgs)
			w.key("updates", k.Updates)
			w.key("add", strings.Join(k.Add, ";"))
			w.key("volid", k.VolID)
			w.key("replace", FormatReplace(k.Replace))
		}
	}
	w.key("nvr", strings.Join(s.NVRs, ";"))
	w.key("bid", strings.Join(s.BuildIDs, ";"))
	return w.Bytes()
}

type writer struct{ bytes.Buffer }

func (w *writer) header(name string) {
	if w.Len() > 0 {
		w.WriteByte('\n')
	}
	w.WriteString("[" + name + "]\n")
}

func (w *writer) key(k, v string) {
	if v != "" {
		w.WriteString(k + "=" + quoteValue(v) + "\n")
	}
}

func (w *writer) boolean(k string, v bool) {
	if v {
		w.WriteString(k + "=1\n")
	} else {
		w.WriteString(k + "=0\n")
	}
}

// quoteValue writes v so that ini.v1 reads it back unchanged: as is when it
// is plain, else between backquotes, which ini.v1 strips up to the last one
// on the line (so v may itself hold backquotes).
func quoteValue(v string) string {
	plain := v == strings.TrimSpace(v) &&
		!strings.HasPrefix(v, "`") && !strings.HasPrefix(v, `"""`) &&
		!surrounded(v, '"') && !surrounded(v, '\'') &&
		strings.IndexFunc(v, unicode.IsControl) < 0
	if plain {
		return v
	}
	return "`" + v + "`"
}

// surrounded reports whether ini.v1 would strip quotes q around v.
func surrounded(v string, q byte) bool {
	return len(v) >= 2 && v[0] == q && v[len(v)-1] == q && strings.IndexByte(v[1:], q) == len(v)-2
}
