package webapp

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/tasks"
)

// Kickstart sources of the form's ks_source field.
const (
	ksUpload   = "upload"
	ksURL      = "url"
	ksStandard = "standard"
)

// formField names a spec field as a form field.
func formField(k string) string {
	switch k {
	case "iso":
		return "ksiso_iso"
	case "builder":
		return "live_builder"
	}
	return k
}

// specFormField maps a spec key to the form field it came from.
func specFormField(e *spec.Error) string {
	k := strings.ToLower(e.Key)
	switch {
	case e.Section == "" || strings.EqualFold(e.Section, "DEFAULT"):
		if k == "" {
			return ""
		}
		return k
	case k == "config":
		return "kickstart"
	case k == "nvr":
		return "nvrs"
	case k == "bid":
		return "build_ids"
	case k == "" && e.Section == "boot":
		return "boot_repos"
	case strings.HasSuffix(k, "_url"), strings.HasSuffix(k, "_mirror"):
		return "boot_repos"
	}
	return e.Section + "_" + strings.ReplaceAll(k, "-", "_")
}

// readForm reads the build form (urlencoded, or multipart with kickstart
// files in ks_files), streaming, within the upload limits.
func (s *Server) readForm(r *http.Request) (url.Values, map[string][]byte, []string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if err := r.ParseForm(); err != nil {
			return nil, nil, nil, badRequestOr(err, "", "malformed form: %v", err)
		}
		return r.PostForm, nil, nil, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, nil, badRequest("", "malformed form: %v", err)
	}
	vals := url.Values{}
	files := map[string][]byte{}
	var (
		order []string
		// fileErr is the first upload over the limits: the rest of the
		// form is still read, so the page can keep the input.
		fileErr error
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, badRequestOr(err, "", "malformed form: %v", err)
		}
		name := part.FormName()
		if name == "ks_files" {
			fn := part.FileName()
			if fn == "" || fileErr != nil { // the file input left empty, or already failed
				continue
			}
			switch _, dup := files[fn]; {
			case len(files) == s.cfg.MaxFiles:
				fileErr = tooLarge("ks_files", "more than %d kickstart files: at most %d per build", s.cfg.MaxFiles, s.cfg.MaxFiles)
			case dup:
				fileErr = invalid("ks_files", "kickstart %s chosen twice", fn)
			}
			if fileErr != nil {
				continue
			}
			data, err := readAllLimit(part, s.cfg.MaxKickstart, "kickstart "+fn)
			var p *problem
			switch {
			case errors.As(err, &p):
				p.body.Field = "ks_files"
				fileErr = p
				continue
			case err != nil:
				return nil, nil, nil, badRequestOr(err, "", "malformed form: %v", err)
			}
			files[fn] = data
			order = append(order, fn)
			continue
		}
		if len(vals) > 100 {
			return nil, nil, nil, badRequest(name, "too many form fields")
		}
		v, err := readAllLimit(part, 64<<10, name)
		if err != nil {
			return nil, nil, nil, err
		}
		vals.Add(name, string(v))
	}
	if fileErr != nil {
		return vals, nil, nil, fileErr
	}
	return vals, files, order, nil
}

// iniWriter builds the INI spec of a form submission, so the form is
// checked by the same parser as spec files.
type iniWriter struct {
	b    strings.Builder
	errs fieldErrors
}

func (w *iniWriter) section(name string) { fmt.Fprintf(&w.b, "[%s]\n", name) }

func (w *iniWriter) key(field, key, v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		w.errs = append(w.errs, invalid(field, "must be one line of text"))
		return
	}
	// ini.v1 strips quotes around a value; backquotes keep it as typed
	// (as conf/spec.Marshal does).
	if strings.ContainsAny(v[:1], "\"'`") || strings.ContainsAny(v[len(v)-1:], "\"'`") {
		v = "`" + v + "`"
	}
	fmt.Fprintf(&w.b, "%s=%s\n", key, v)
}

func (w *iniWriter) boolean(key string, on bool) {
	if on {
		fmt.Fprintf(&w.b, "%s=1\n", key)
	} else {
		fmt.Fprintf(&w.b, "%s=0\n", key)
	}
}

// splitList splits a list field on commas, semicolons and spaces.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

// formDraft turns the form into a draft: its INI spec, parsed by
// conf/spec, plus the uploaded kickstarts.
func (s *Server) formDraft(v url.Values, files map[string][]byte, order []string) (*draft, error) {
	var w iniWriter
	t := tasks.ImageType(v.Get("type"))
	if !t.Valid() {
		return nil, fieldErrors{invalid("type", "choose an image type")}
	}
	w.section("DEFAULT")
	for _, k := range []string{"type", "arch", "release", "staging", "email"} {
		w.key(k, k, v.Get(k))
	}
	w.section(string(t))
	f := func(k string) string { return v.Get(string(t) + "_" + k) }
	switch t {
	case tasks.TypeBoot:
		for _, k := range []string{"product", "release", "version", "proxy"} {
			w.key("boot_"+k, k, f(k))
		}
		w.boolean("updates", f("updates") != "")
		w.boolean("updates-testing", f("updates_testing") != "")
		for i, line := range strings.Split(f("repos"), "\n") {
			fs := strings.Fields(line)
			switch len(fs) {
			case 0:
				continue
			case 2, 3:
				w.key("boot_repos", fs[0]+"_url", fs[1])
				if len(fs) == 3 {
					w.key("boot_repos", fs[0]+"_mirror", fs[2])
				}
			default:
				w.errs = append(w.errs, invalid("boot_repos", "line %d: want \"NAME URL [MIRROR]\"", i+1))
			}
		}
	case tasks.TypeDVD:
		for _, k := range []string{"name", "version", "flavor", "bugurl", "stage"} {
			w.key("dvd_"+k, k, f(k))
		}
		for _, k := range []string{"nosource", "sourceisos", "force"} {
			w.boolean(k, f(k) != "")
		}
	case tasks.TypeLive:
		for _, k := range []string{"label", "title", "product", "releasever", "builder"} {
			w.key("live_"+k, k, f(k))
		}
	case tasks.TypeKSISO:
		w.key("ksiso_iso", "iso", f("iso"))
		w.key("ksiso_cmdline", "cmdline", f("cmdline"))
	}
	if t != tasks.TypeBoot {
		var ref string
		switch v.Get("ks_source") {
		case ksUpload:
			ref = strings.TrimSpace(v.Get("ks_main"))
			if ref == "" && len(order) > 0 {
				ref = order[0]
			}
			if len(files) == 0 {
				w.errs = append(w.errs, invalid("ks_files", "choose the kickstart file(s) to upload"))
			}
		case ksURL:
			ref = v.Get("ks_url")
			files = nil
		case ksStandard:
			ref = v.Get("ks_standard")
			files = nil
		default:
			w.errs = append(w.errs, invalid("kickstart", "choose where the kickstart comes from"))
		}
		w.key("kickstart", "config", ref)
	}
	w.key("nvrs", "nvr", strings.Join(splitList(v.Get("nvrs")), ";"))
	w.key("build_ids", "bid", strings.Join(splitList(v.Get("build_ids")), ";"))
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	res, err := spec.Parse("form", []byte(w.b.String()))
	if err != nil {
		var se spec.Errors
		if errors.As(err, &se) {
			var fe fieldErrors
			for _, e := range se {
				fe = append(fe, invalid(specFormField(e), "%s", e.Reason))
			}
			return nil, fe
		}
		return nil, err
	}
	return &draft{spec: res.Spec, files: files, warnings: res.Warnings, field: formField}, nil
}
