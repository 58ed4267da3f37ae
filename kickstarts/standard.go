package kickstarts

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// embedded holds the standard kickstarts written for fbs.
//
//go:embed standard/*.ks
var embedded embed.FS

// Library is where an installation keeps standard kickstarts besides the
// embedded ones. A build's release picks its own: the copy of Fedora's
// kickstarts synced for that release (`fbs ks sync`), then the site
// directory, then the embedded ones; the first holding a name wins.
type Library struct {
	// SyncDir holds Fedora's kickstarts per release, one directory each
	// (SyncDir/41, SyncDir/rawhide), as SyncRelease writes them. Empty
	// means none.
	SyncDir string
	// SiteDir is the [kickstarts] dir (by default Fedora's spin-kickstarts
	// package directory when it is installed). Empty means none.
	SiteDir string
}

// Dirs lists the directories holding release's standard kickstarts, in the
// order they are searched: the synced copy for release (when there is
// one), then the site directory.
func (l Library) Dirs(release string) []string {
	var dirs []string
	if d := l.releaseDir(release); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			dirs = append(dirs, d)
		}
	}
	if l.SiteDir != "" {
		dirs = append(dirs, l.SiteDir)
	}
	return dirs
}

// releaseDir is where release's synced kickstarts are, or "".
func (l Library) releaseDir(release string) string {
	if l.SyncDir == "" || checkRelease(release) != nil {
		return ""
	}
	return filepath.Join(l.SyncDir, release)
}

// Entry is a standard kickstart.
type Entry struct {
	// Name is how it is asked for (config=NAME): the file name without
	// ".ks".
	Name string
	// Description comes from the file's leading comment.
	Description string
	// Source is "embedded" or the file's path in the synced or site
	// directory.
	Source string
}

// Standard lists the standard kickstarts release offers: the *.ks files at
// the top of each of lib.Dirs(release), then the embedded ones, each name
// once (the first found shadows the others), each directory's sorted by
// name. An empty release lists the site and embedded ones.
func Standard(lib Library, release string) ([]Entry, error) {
	var out []Entry
	seen := make(map[string]bool)
	for _, dir := range lib.Dirs(release) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("list standard kickstarts in %s: %w", dir, err)
		}
		for _, e := range ents {
			name := strings.TrimSuffix(e.Name(), ".ks")
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".ks") || seen[name] {
				continue
			}
			p := filepath.Join(dir, e.Name())
			data, err := readOS(p)
			if err != nil {
				return nil, fmt.Errorf("read standard kickstart %s: %w", p, err)
			}
			seen[name] = true
			out = append(out, Entry{Name: name, Description: describe(string(data), e.Name()), Source: p})
		}
	}
	ents, err := fs.ReadDir(embedded, "standard")
	if err != nil {
		return nil, fmt.Errorf("list embedded kickstarts: %w", err)
	}
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".ks")
		if seen[name] {
			continue
		}
		data, err := fs.ReadFile(embedded, "standard/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read embedded kickstart %s: %w", e.Name(), err)
		}
		out = append(out, Entry{Name: name, Description: describe(string(data), e.Name()), Source: "embedded"})
	}
	return out, nil
}

// describe takes a description from a kickstart's leading comment: the
// lines after a "Description:" line if there is one, else the first
// paragraph, skipping a first line that only repeats the file name.
func describe(text, file string) string {
	var lines []string
	for l := range strings.Lines(text) {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "#") {
			if l == "" && len(lines) == 0 {
				continue
			}
			break
		}
		lines = append(lines, strings.TrimSpace(strings.TrimLeft(l, "#")))
	}
	for i, l := range lines {
		if len(l) >= 12 && strings.EqualFold(l[:12], "description:") {
			rest := strings.TrimSpace(l[12:])
			lines = lines[i+1:]
			if rest != "" {
				lines = append([]string{rest}, lines...)
			}
			break
		}
	}
	for len(lines) > 0 && (lines[0] == "" || strings.HasSuffix(lines[0], ".ks") && !strings.Contains(lines[0], " ")) {
		lines = lines[1:]
	}
	var para []string
	for _, l := range lines {
		if l == "" {
			break
		}
		para = append(para, strings.TrimPrefix(l, "- "))
	}
	d := strings.Join(para, " ")
	if len(d) > 200 {
		d = d[:197] + "..."
	}
	if d == "" {
		d = file
	}
	return d
}

// shelf finds standard kickstarts by name for one flatten: in each
// directory of a Library for the build's release, confined to it, then
// among the embedded. It keeps the directories it opened until close.
type shelf struct {
	release string
	dirs    []string
	roots   map[string]*os.Root
	fetch   *fetcher
}

func newShelf(opts Options, f *fetcher) *shelf {
	return &shelf{release: opts.Release, dirs: opts.Library.Dirs(opts.Release), roots: make(map[string]*os.Root), fetch: f}
}

// close releases the directories opened.
func (s *shelf) close() {
	for _, r := range s.roots {
		r.Close()
	}
}

// open reads the standard kickstart ref: a name with or without ".ks", or
// (for includes) a relative path such as "snippets/x.ks" inside one of the
// directories.
func (s *shelf) open(ref string) (source, []byte, error) {
	base := ref
	if !strings.HasSuffix(base, ".ks") && !strings.Contains(base, "/") {
		base += ".ks"
	}
	if !fs.ValidPath(base) || strings.Contains(base, `\`) {
		return nil, nil, fmt.Errorf("kickstart %s: no such file, and not a standard kickstart name: %w", ref, ErrNotFound)
	}
	for _, dir := range s.dirs {
		root, ok := s.roots[dir]
		if !ok {
			var err error
			if root, err = os.OpenRoot(dir); err != nil {
				return nil, nil, fmt.Errorf("open standard kickstart directory %s: %w", dir, err)
			}
			s.roots[dir] = root
		}
		data, err := readFS(root.FS(), base)
		switch {
		case err == nil:
			return &fsSource{fsys: root.FS(), root: dir, path: base, display: dirPrefix(dir), fetch: s.fetch}, data, nil
		case !errors.Is(err, ErrNotFound):
			return nil, nil, fmt.Errorf("standard kickstart %s: %w", filepath.Join(dir, base), err)
		}
	}
	sub, _ := fs.Sub(embedded, "standard")
	data, err := readFS(sub, base)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil, fmt.Errorf("kickstart %s: no such file, and not a standard kickstart%s: %w", ref, s.where(), ErrNotFound)
		}
		return nil, nil, fmt.Errorf("standard kickstart %s: %w", base, err)
	}
	return &fsSource{fsys: sub, root: "standard:", path: base, display: "standard:"}, data, nil
}

// where says whose standard kickstarts were searched, for messages (which
// go to whoever submitted: no server paths).
func (s *shelf) where() string {
	if s.release == "" {
		return ""
	}
	return " of release " + s.release
}
