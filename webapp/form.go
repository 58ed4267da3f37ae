package webapp

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/tasks"
)

// Kickstart sources of the form's ks_source field.
const (
	ksUpload   = "upload"
	ksURL      = "url"
	ksStandard = "standard"
)

// formName names a field path as the form's field: "arch", "ksiso_iso",
// "boot_repos" for the repository keys, "nvrs" and "build_ids".
func formName(path string) string {
	switch path {
	case tasks.FieldNVRs:
		return "nvrs"
	case tasks.FieldBuildIDs:
		return "build_ids"
	case string(tasks.TypeBoot):
		return "boot_repos"
	}
	section, key, ok := strings.Cut(path, ".")
	switch {
	case !ok:
		return path
	case section == string(tasks.TypeBoot) && (strings.HasSuffix(key, "_url") || strings.HasSuffix(key, "_mirror")):
		return "boot_repos"
	}
	return section + "_" + strings.ReplaceAll(key, "-", "_")
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
			var te *tasks.Error
			switch {
			case errors.As(err, &te):
				te.Field = "ks_files"
				fileErr = te
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

// repoNameRE is a repository name of the form's boot_repos lines, as the
// spec's keys take it: 41, 41-updates, rawhide.
var repoNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
})

// repoLines writes repositories as the form's boot_repos lines,
// "NAME URL [MIRROR]", which formDraft reads back.
func repoLines(repos []tasks.Repo) string {
	var b strings.Builder
	for _, r := range repos {
		b.WriteString(r.Name + " " + r.URL)
		if r.Mirror != "" {
			b.WriteString(" " + r.Mirror)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// formDraft turns the form into a draft: the spec the form describes,
// written by conf/spec.Marshal and read back by conf/spec.Parse, so the form
// is checked by the same parser as spec files; plus the uploaded kickstarts.
func (s *Server) formDraft(v url.Values, files map[string][]byte, order []string) (*draft, error) {
	t := tasks.ImageType(v.Get("type"))
	if !t.Valid() {
		return nil, tasks.Errors{tasks.Invalid("type", "choose an image type")}
	}
	var errs tasks.Errors
	get := func(field string) string {
		val := strings.TrimSpace(v.Get(field))
		if !oneLine(val) {
			errs = append(errs, tasks.Invalid(field, "must be one line of text"))
			return ""
		}
		return val
	}
	// Several arches chosen make a group: one build per arch.
	var arches []string
	for _, a := range v["arch"] {
		if a = strings.TrimSpace(a); !oneLine(a) {
			errs = append(errs, tasks.Invalid("arch", "must be one line of text"))
		} else if a != "" {
			arches = append(arches, a)
		}
	}
	sp := tasks.Spec{Type: t, Arch: tasks.JoinArches(arches), Release: get("release"), Staging: get("staging"), Email: get("email"),
		NVRs: spec.SplitList(v.Get("nvrs")), BuildIDs: spec.SplitList(v.Get("build_ids"))}
	checked := func(b string) bool { return v.Get(b) != "" }
	switch t {
	case tasks.TypeBoot:
		b := &tasks.BootSpec{Product: get("boot_product"), Release: get("boot_release"), Version: get("boot_version"),
			Proxy: get("boot_proxy"), Updates: checked("boot_updates"), UpdatesTesting: checked("boot_updates_testing")}
		for i, line := range strings.Split(v.Get("boot_repos"), "\n") {
			fs := strings.Fields(line)
			switch {
			case len(fs) == 0:
			case (len(fs) == 2 || len(fs) == 3) && repoNameRE().MatchString(fs[0]):
				r := tasks.Repo{Name: fs[0], URL: fs[1]}
				if len(fs) == 3 {
					r.Mirror = fs[2]
				}
				b.Repos = append(b.Repos, r)
			default:
				errs = append(errs, tasks.Invalid("boot_repos", "line %d: want \"NAME URL [MIRROR]\"", i+1))
			}
		}
		sp.Boot = b
	case tasks.TypeDVD:
		sp.DVD = &tasks.DVDSpec{Name: get("dvd_name"), Version: get("dvd_version"), Flavor: get("dvd_flavor"),
			BugURL: get("dvd_bugurl")}
	case tasks.TypeLive:
		sp.Live = &tasks.LiveSpec{Label: get("live_label"), Title: get("live_title"), Product: get("live_product"),
			ReleaseVer: get("live_releasever"), Builder: get("live_builder")}
	case tasks.TypeKSISO:
		k := &tasks.KSISOSpec{ISO: get("ksiso_iso"), Cmdline: get("ksiso_cmdline"), RmArgs: get("ksiso_rm_args"),
			Updates: get("ksiso_updates"), Add: spec.SplitList(v.Get("ksiso_add")), VolID: get("ksiso_volid")}
		// One "FROM TO" pair a line, as mkksiso's -R FROM TO.
		for i, line := range strings.Split(v.Get("ksiso_replace"), "\n") {
			switch fs := strings.Fields(line); len(fs) {
			case 0:
			case 2:
				k.Replace = append(k.Replace, tasks.Replace{From: fs[0], To: fs[1]})
			default:
				errs = append(errs, tasks.Invalid("ksiso_replace", "line %d: want \"FROM TO\" (two words)", i+1))
			}
		}
		if len(k.Add) == 0 {
			k.Add = nil
		}
		sp.KSISO = k
	}
	if t != tasks.TypeBoot {
		var ref string
		switch v.Get("ks_source") {
		case ksUpload:
			ref = get("ks_main")
			if ref == "" && len(order) > 0 {
				ref = order[0]
			}
			if len(files) == 0 {
				errs = append(errs, tasks.Invalid("ks_files", "choose the kickstart file(s) to upload"))
			}
		case ksURL:
			ref = get("ks_url")
			files = nil
		case ksStandard:
			ref = get("ks_standard")
			files = nil
		default:
			errs = append(errs, tasks.Invalid("kickstart", "choose where the kickstart comes from"))
		}
		sp.SetKickstartRef(ref)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	res, err := spec.Parse("form", spec.Marshal(&sp))
	if err != nil {
		var se spec.Errors
		if errors.As(err, &se) {
			fe := make(tasks.Errors, len(se))
			for i, e := range se {
				fe[i] = tasks.Invalid(formName(e.Field), "%s", e.Reason)
			}
			return nil, fe
		}
		return nil, err
	}
	return &draft{spec: res.Spec, files: files, warnings: res.Warnings, name: formName}, nil
}
