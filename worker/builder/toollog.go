package builder

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/fedora-fbs/fbs/tasks"
)

// ToolLog is one log file a build tool wrote of its own, beside what it
// printed to stdout and stderr.
type ToolLog struct {
	// Name is its path inside the build's logs/ folder: "lorax.log",
	// "anaconda/program.log".
	Name string
	// Path is where the file is on this host.
	Path string
	// format is how the tool writes it, for FindError.
	format logFormat
}

// logFormat is how one kind of tool log marks an error line.
type logFormat int

const (
	// formatPython is pylorax's logging: lorax.log and livemedia.log
	// ("2024-05-01 10:00:00,123 ERROR pylorax: ...") and its program.log
	// ("2024-05-01 10:00:00,123 ERROR: ...").
	formatPython logFormat = iota
	// formatDNF is dnf's own logs, dnf.log, dnf.librepo.log, hawkey.log
	// ("2024-05-01T10:00:00+0000 ERROR ..."), and dnf5's, which add the
	// process ID ("2024-05-01T10:00:00+0000 [1234] ERROR ...").
	formatDNF
	// formatAnaconda is anaconda's logs, copied by livemedia-creator to
	// anaconda/ ("10:00:00,123 ERR packaging: ...").
	formatAnaconda
)

// logPatterns holds, per format, the start of a log record with the level
// as the first submatch.
var logPatterns = sync.OnceValue(func() map[logFormat]*regexp.Regexp {
	return map[logFormat]*regexp.Regexp{
		formatPython:   regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ([A-Z]+)\b`),
		formatDNF:      regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* (?:\[\d+\] )?([A-Z]+)\b`),
		formatAnaconda: regexp.MustCompile(`^\d\d:\d\d:\d\d(?:,\d{3})? ([A-Z]+)\b`),
	}
})

// errorLevel reports whether a level word of format f marks an error.
func (f logFormat) errorLevel(level string) bool {
	switch level {
	case "ERROR", "CRITICAL":
		return true
	case "ERR", "CRIT", "CRT":
		return f == formatAnaconda
	}
	return false
}

// logSource is where a tool leaves logs, relative to the job's WorkDir.
type logSource struct {
	dir    string // folder under WorkDir
	glob   string // file names in it
	folder string // folder under logs/ they are staged to
	format logFormat
}

// logSources lists where the tool of builder b writes its logs, most
// telling first: FindError reports the first log, in this order, that has
// an error.
//
//   - lorax writes --logfile (lorax.log) and, beside it, program.log (the
//     programs it ran) and dnf.log;
//   - livemedia-creator writes --logfile (livemedia.log) and program.log
//     beside it, and after anaconda ran (--no-virt) copies anaconda's logs
//     from /tmp into anaconda/ beside them (program.log, packaging.log,
//     storage.log, dnf.librepo.log, anaconda-tb-* tracebacks);
//   - livecd-creator writes --logfile (livecd-creator.log);
//   - a DVD build runs lorax as above, then dnf with --installroot, which
//     logs into the install root's var/log (dnf.log, dnf.librepo.log,
//     hawkey.log; dnf5.log), staged as dnf/.
//
// It switches on the builders' types, so a renamed builder cannot lose its
// logs silently.
func logSources(b Builder) []logSource {
	loraxLogs := []logSource{
		{dir: ".", glob: "lorax.log", format: formatPython},
		{dir: ".", glob: "program.log", format: formatPython},
		{dir: ".", glob: "dnf*.log", format: formatDNF},
	}
	switch b.(type) {
	case *lorax:
		return loraxLogs
	case *dvd:
		dnfLogs := filepath.Join(dvdRoot, "var", "log")
		return append(loraxLogs,
			logSource{dir: dnfLogs, glob: "dnf*.log", folder: "dnf", format: formatDNF},
			logSource{dir: dnfLogs, glob: "hawkey.log", folder: "dnf", format: formatDNF})
	case *liveMedia:
		return []logSource{
			{dir: "anaconda", glob: "packaging.log", folder: "anaconda", format: formatAnaconda},
			{dir: "anaconda", glob: "anaconda-tb-*", folder: "anaconda", format: formatAnaconda},
			{dir: "anaconda", glob: "program.log", folder: "anaconda", format: formatAnaconda},
			{dir: "anaconda", glob: "anaconda.log", folder: "anaconda", format: formatAnaconda},
			{dir: "anaconda", glob: "storage.log", folder: "anaconda", format: formatAnaconda},
			{dir: "anaconda", glob: "dnf*.log", folder: "anaconda", format: formatDNF},
			{dir: "anaconda", glob: "hawkey.log", folder: "anaconda", format: formatDNF},
			{dir: "anaconda", glob: "*log", folder: "anaconda", format: formatAnaconda},
			{dir: ".", glob: "livemedia.log", format: formatPython},
			{dir: ".", glob: "program.log", format: formatPython},
		}
	case *liveCD:
		return []logSource{{dir: ".", glob: "livecd-creator.log", format: formatPython}}
	}
	return nil
}

// CollectLogs moves the logs the tool of b wrote under workDir into dst
// (made if needed), keeping their folders (anaconda/), and returns them
// most telling first. A tool that wrote none gives none. Missing files are
// fine; an error is returned only when a log was there and could not be
// moved.
func CollectLogs(b Builder, workDir, dst string) ([]ToolLog, error) {
	var logs []ToolLog
	seen := map[string]bool{}
	var errs []error
	for _, src := range logSources(b) {
		matches, err := filepath.Glob(filepath.Join(workDir, src.dir, src.glob))
		if err != nil {
			return nil, fmt.Errorf("collect %s logs: %w", b.Name(), err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			fi, err := os.Lstat(m)
			if err != nil || !fi.Mode().IsRegular() {
				continue // a symlink or folder is not a log to stage
			}
			name := filepath.Base(m)
			if src.folder != "" {
				name = src.folder + "/" + name
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			to := filepath.Join(dst, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				errs = append(errs, fmt.Errorf("collect %s: %w", name, err))
				continue
			}
			if err := os.Rename(m, to); err != nil {
				errs = append(errs, fmt.Errorf("collect %s: %w", name, err))
				continue
			}
			logs = append(logs, ToolLog{Name: name, Path: to, format: src.format})
		}
	}
	return logs, errors.Join(errs...)
}

// FindError returns where the first of logs that shows an error has it:
// its first error line (with the lines of the same record) or traceback.
// It returns nil when none shows one.
func FindError(logs []ToolLog) *tasks.LogExcerpt {
	for _, l := range logs {
		f, err := os.Open(l.Path)
		if err != nil {
			continue // moved away or unreadable: nothing to point at
		}
		line, lines := firstError(f, l.format)
		f.Close()
		if line > 0 {
			return &tasks.LogExcerpt{Log: l.Name, Line: line, Lines: lines}
		}
	}
	return nil
}

// maxExcerpt is how many lines an excerpt keeps at most.
const maxExcerpt = 20

// maxLogLine is the longest line an excerpt keeps whole.
const maxLogLine = 1000

// firstError scans a log of format f for its first error: a record whose
// level is an error, or a Python traceback. It returns the line number
// (from 1) where it starts, or 0, and its lines: for a record, it and the
// lines after it that start no new record; for a traceback, its frames up
// to the exception line.
func firstError(r io.Reader, f logFormat) (int, []string) {
	start := logPatterns()[f]
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n, at := 0, 0
	var lines []string
	traceback := false
	for sc.Scan() {
		n++
		text := strings.TrimRight(sc.Text(), "\r")
		if len(text) > maxLogLine {
			text = text[:maxLogLine] + "…"
		}
		m := start.FindStringSubmatch(text)
		if at == 0 {
			switch {
			case m != nil && f.errorLevel(m[1]):
				at = n
				traceback = strings.Contains(text, "Traceback (most recent call last)")
			case strings.Contains(text, "Traceback (most recent call last)"):
				at, traceback = n, true
			default:
				continue
			}
			lines = append(lines, text)
			continue
		}
		if len(lines) >= maxExcerpt {
			break
		}
		if traceback {
			// A traceback's frames are indented; the exception line that
			// ends it is not (in anaconda-tb-* or a log record's text).
			lines = append(lines, text)
			body := text
			if m != nil {
				body = strings.TrimSpace(text[len(m[0]):])
				body = strings.TrimPrefix(strings.TrimPrefix(body, ":"), " ")
			}
			if len(lines) > 1 && body != "" && !strings.HasPrefix(body, " ") && !strings.HasPrefix(body, "\t") &&
				!strings.HasPrefix(body, "Traceback") && !strings.HasPrefix(body, "File ") {
				break
			}
			continue
		}
		if m != nil || strings.TrimSpace(text) == "" {
			break // the next record
		}
		lines = append(lines, text)
	}
	return at, lines
}
