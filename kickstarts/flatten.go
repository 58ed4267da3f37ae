package kickstarts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedora-fbs/fbs/tasks/egress"
)

// Options tune Flatten, FlattenFS and Validate.
type Options struct {
	// Version is the pykickstart syntax version, e.g. "F42", or "DEVEL";
	// empty means Release's (see SyntaxVersion), or the newest supported
	// (see SupportedVersions) when Release is empty too.
	Version string
	// Release is the Fedora release the kickstart is for ("41",
	// "rawhide"): it picks the syntax when Version is empty, and the
	// standard kickstarts names and includes resolve to (Library).
	Release string
	// Library is where standard kickstarts are, besides the embedded ones:
	// a kickstart named by its standard name, and an %include found
	// neither beside the including file nor (for URLs) at its URL, resolve
	// in Library.Dirs(Release), then among the embedded ones. These are
	// the operator's files, so even a confined flatten reads them.
	Library Library
	// Confined restricts %include to the main file's directory tree: no
	// absolute paths, no "..", no symlink leading out. Set it whenever
	// flattening for someone else. FlattenFS is always confined to its FS.
	Confined bool
	// Egress is the outbound-address policy URL fetches (the kickstart
	// itself or URL includes) are checked against, on the address each
	// connection is made to; nil is the default policy, which refuses
	// loopback, link-local and private addresses (tasks/egress).
	// egress.Open() allows every address: the local CLI.
	Egress *egress.Policy
	// Client does URL fetches; nil means a client with a 30 s timeout whose
	// dialer checks addresses against Egress itself.
	Client *http.Client
}

// Warning is something kept but worth telling the user about, such as an
// unknown command kept verbatim.
type Warning struct {
	File    string
	Line    int
	Message string
}

// String gives "file:line: message".
func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message)
	}
	return fmt.Sprintf("%s: %s", w.File, w.Message)
}

// Result is a flattened kickstart.
type Result struct {
	// Name is what the kickstart was called: file base name, URL or
	// standard name.
	Name string
	// Text is the flattened kickstart: each single-instance command once,
	// one %packages section, no %include.
	Text     string
	Warnings []Warning
}

// Problem is a validation finding.
type Problem struct {
	File     string
	Line     int
	Severity string // "error" or "warning"
	Message  string
}

// String gives "file:line: severity: message", as fbs ks validate prints it.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Severity, p.Message)
	}
	return fmt.Sprintf("%s: %s: %s", p.File, p.Severity, p.Message)
}

// Flatten reads ref (a file path, an http/https/ftp URL, or the name of a
// standard kickstart, embedded or in SiteDir) and everything it includes,
// and returns one self-contained kickstart. Errors name the file and line;
// they wrap ErrNotFound, ErrRefused, ErrLimit or a *FetchError where that
// is the cause, and are *ParseError for problems in the kickstart.
func Flatten(ctx context.Context, ref string, opts Options) (*Result, error) {
	syn, note, err := opts.syntax()
	if err != nil {
		return nil, err
	}
	f := newFetcher(opts)
	std := newShelf(opts, f)
	defer std.close()
	src, data, name, closeFn, err := open(ctx, ref, opts, f, std)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return flatten(ctx, syn, note, std, src, data, name)
}

// syntax is the kickstart syntax the options ask for, and a note to warn
// with when it stands in for a release older than the tables.
func (opts Options) syntax() (*syntax, string, error) {
	if opts.Version == "" && opts.Release != "" {
		v, err := SyntaxVersion(opts.Release)
		if err != nil {
			return nil, "", err
		}
		syn, err := lookupSyntax(v)
		if err != nil {
			return nil, "", err
		}
		var note string
		if olderThanTables(opts.Release) {
			note = fmt.Sprintf("release %s is older than the kickstart syntax fbs knows: read with %s's, which may refuse a command that release still had", opts.Release, v)
		}
		return syn, note, nil
	}
	syn, err := lookupSyntax(opts.Version)
	return syn, "", err
}

// FlattenFS flattens name inside fsys (web uploads: several files that
// include each other); includes never leave fsys: absolute paths, ".."
// escapes and URLs are refused.
func FlattenFS(ctx context.Context, fsys fs.FS, name string, opts Options) (*Result, error) {
	syn, note, err := opts.syntax()
	if err != nil {
		return nil, err
	}
	src, data, err := openFS(fsys, name)
	if err != nil {
		return nil, err
	}
	std := newShelf(opts, nil)
	defer std.close()
	return flatten(ctx, syn, note, std, src, data, name)
}

func flatten(ctx context.Context, syn *syntax, note string, std *shelf, src source, data []byte, name string) (*Result, error) {
	p := newParser(ctx, syn, std, false)
	if err := p.run(src, data); err != nil {
		return nil, err
	}
	r := &Result{Name: name, Text: p.d.write(name, syn.label)}
	if note != "" {
		r.Warnings = append(r.Warnings, Warning{File: src.name(), Message: note})
	}
	for _, pr := range p.problems {
		r.Warnings = append(r.Warnings, Warning{File: pr.File, Line: pr.Line, Message: pr.Message})
	}
	return r, nil
}

// Validate reads ref as Flatten does and reports every problem with
// file:line: unknown commands, unknown or malformed options of known
// commands, sections not closed, %end without a section, %packages entries
// that are not valid names (errors), and what Flatten would warn about.
// The error is for a ref that cannot be read at all or a limit exceeded.
func Validate(ctx context.Context, ref string, opts Options) ([]Problem, error) {
	syn, note, err := opts.syntax()
	if err != nil {
		return nil, err
	}
	f := newFetcher(opts)
	std := newShelf(opts, f)
	defer std.close()
	src, data, _, closeFn, err := open(ctx, ref, opts, f, std)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return validate(ctx, syn, note, std, src, data)
}

// ValidateFS is Validate for a kickstart inside fsys, with FlattenFS's
// include rules: what the web form and the API check before enqueueing.
func ValidateFS(ctx context.Context, fsys fs.FS, name string, opts Options) ([]Problem, error) {
	syn, note, err := opts.syntax()
	if err != nil {
		return nil, err
	}
	src, data, err := openFS(fsys, name)
	if err != nil {
		return nil, err
	}
	std := newShelf(opts, nil)
	defer std.close()
	return validate(ctx, syn, note, std, src, data)
}

func validate(ctx context.Context, syn *syntax, note string, std *shelf, src source, data []byte) ([]Problem, error) {
	p := newParser(ctx, syn, std, true)
	if note != "" {
		p.problems = append(p.problems, Problem{File: src.name(), Severity: "warning", Message: note})
	}
	if err := p.run(src, data); err != nil {
		return p.problems, err
	}
	return p.problems, nil
}

// HasErrors reports whether any problem is an error.
func HasErrors(problems []Problem) bool {
	for _, p := range problems {
		if p.Severity == "error" {
			return true
		}
	}
	return false
}

func openFS(fsys fs.FS, name string) (source, []byte, error) {
	if !fs.ValidPath(name) {
		return nil, nil, fmt.Errorf("kickstart %q: not a valid name inside the submission: %w", name, ErrRefused)
	}
	data, err := readFS(fsys, name)
	if err != nil {
		return nil, nil, fmt.Errorf("kickstart %s: %w", name, err)
	}
	return &fsSource{fsys: fsys, path: name}, data, nil
}

// open resolves ref: a URL, an existing file, or a standard name. The
// returned function releases what was opened.
func open(ctx context.Context, ref string, opts Options, f *fetcher, std *shelf) (src source, data []byte, name string, closeFn func(), err error) {
	closeFn = func() {}
	if isURL(ref) {
		src, data, err = f.open(ctx, ref)
		if err != nil {
			return nil, nil, "", closeFn, err
		}
		return src, data, src.name(), closeFn, nil
	}
	st, statErr := os.Stat(ref)
	switch {
	case statErr == nil && st.IsDir():
		return nil, nil, "", closeFn, fmt.Errorf("kickstart %s is a directory", ref)
	case statErr == nil && opts.Confined:
		dir := filepath.Dir(ref)
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, nil, "", closeFn, fmt.Errorf("open kickstart directory %s: %w", dir, err)
		}
		base := filepath.Base(ref)
		data, err := readFS(root.FS(), base)
		if err != nil {
			root.Close()
			return nil, nil, "", closeFn, fmt.Errorf("kickstart %s: %w", ref, err)
		}
		return &fsSource{fsys: root.FS(), root: dir, path: base, display: dirPrefix(dir), fetch: f}, data, base, func() { root.Close() }, nil
	case statErr == nil:
		data, err := readOS(ref)
		if err != nil {
			return nil, nil, "", closeFn, fmt.Errorf("kickstart %s: %w", ref, err)
		}
		return &osSource{path: ref, fetch: f}, data, filepath.Base(ref), closeFn, nil
	case !errors.Is(statErr, fs.ErrNotExist):
		return nil, nil, "", closeFn, fmt.Errorf("kickstart %s: %w", ref, statErr)
	}
	if strings.Contains(ref, "/") {
		return nil, nil, "", closeFn, fmt.Errorf("kickstart %s: no such file, and not a standard kickstart name: %w", ref, ErrNotFound)
	}
	src, data, err = std.open(ref)
	if err != nil {
		return nil, nil, "", closeFn, err
	}
	return src, data, strings.TrimSuffix(ref, ".ks"), closeFn, nil
}

// dirPrefix is how files of dir are named in messages.
func dirPrefix(dir string) string {
	if dir == "." || dir == "" {
		return ""
	}
	return strings.TrimSuffix(dir, string(filepath.Separator)) + "/"
}
