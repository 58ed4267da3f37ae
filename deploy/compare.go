package deploy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The kinds of Change.
const (
	ChangeCreate    = "create"
	ChangeUpdate    = "update"
	ChangeDelete    = "delete"
	ChangeUnchanged = "unchanged"
)

// Change is what installing one file would do.
type Change struct {
	Path string
	// Kind is ChangeCreate, ChangeUpdate, ChangeDelete or
	// ChangeUnchanged.
	Kind string
	// Diff is a unified diff from what the host has to what it should
	// have; for a secret only "(secret changed)" or "(secret created)",
	// never its content; "" when unchanged.
	Diff string
}

// Compare says, for every file in want and every file in have that want
// lacks, what installing want would change. have maps a path to its
// content on the host; a path missing from it does not exist there. Files
// in have that want lacks (a unit of a role the host lost) are deletions.
// Changes are sorted by path. Modes and owners are not compared: they are
// set on every install.
func Compare(want []InstallFile, have map[string][]byte) []Change {
	var out []Change
	wanted := map[string]bool{}
	for _, f := range want {
		wanted[f.Path] = true
		old, ok := have[f.Path]
		c := Change{Path: f.Path}
		switch {
		case !ok:
			c.Kind = ChangeCreate
			if f.Secret {
				c.Diff = "(secret created)\n"
			} else {
				c.Diff = unifiedDiff("/dev/null", f.Path, nil, f.Content)
			}
		case bytes.Equal(old, f.Content):
			c.Kind = ChangeUnchanged
		default:
			c.Kind = ChangeUpdate
			if f.Secret {
				c.Diff = "(secret changed)\n"
			} else {
				c.Diff = unifiedDiff(f.Path, f.Path, old, f.Content)
			}
		}
		out = append(out, c)
	}
	for _, p := range slices.Sorted(maps.Keys(have)) {
		if !wanted[p] {
			d := "(secret deleted)\n"
			if !strings.HasPrefix(p, SecretsDir+"/") {
				d = unifiedDiff(p, "/dev/null", have[p], nil)
			}
			out = append(out, Change{Path: p, Kind: ChangeDelete, Diff: d})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// contextLines is how many unchanged lines a hunk shows around changes.
const contextLines = 3

// maxDiffLines bounds the quadratic diff: files longer than this are
// reported as replaced.
const maxDiffLines = 4000

// unifiedDiff is the unified diff (diff -u) from a to b, "" when they are
// equal.
func unifiedDiff(nameA, nameB string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	la, lb := splitLines(a), splitLines(b)
	var buf strings.Builder
	fmt.Fprintf(&buf, "--- %s\n+++ %s\n", nameA, nameB)
	if len(la) > maxDiffLines || len(lb) > maxDiffLines {
		fmt.Fprintf(&buf, "(%d lines replaced by %d lines)\n", len(la), len(lb))
		return buf.String()
	}
	ops := diffOps(la, lb)
	// Group the edit script into hunks with contextLines of context.
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-contextLines, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*contextLines {
				end = min(end+contextLines, len(ops))
				break
			}
			end = run
		}
		h := ops[start:end]
		aStart, bStart := h[0].a, h[0].b
		var aCount, bCount int
		for _, o := range h {
			if o.kind != '+' {
				aCount++
			}
			if o.kind != '-' {
				bCount++
			}
		}
		fmt.Fprintf(&buf, "@@ -%s +%s @@\n", hunkRange(aStart, aCount), hunkRange(bStart, bCount))
		for _, o := range h {
			buf.WriteByte(o.kind)
			buf.WriteString(o.text)
			buf.WriteByte('\n')
			if o.noEOL {
				buf.WriteString("\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return buf.String()
}

// hunkRange writes a hunk's start,count the way diff -u does: the line
// before an empty range, and no count when it is 1.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}

type line struct {
	text  string
	noEOL bool
}

func splitLines(b []byte) []line {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	noEOL := !strings.HasSuffix(s, "\n")
	parts := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	out := make([]line, len(parts))
	for i, p := range parts {
		out[i] = line{text: p}
	}
	out[len(out)-1].noEOL = noEOL
	return out
}

// op is one line of an edit script: ' ' kept, '-' removed, '+' added; a
// and b are the lines of a and b before it (0-based positions).
type op struct {
	kind  byte
	text  string
	noEOL bool
	a, b  int
}

// diffOps is a shortest edit script from a to b by longest common
// subsequence.
func diffOps(a, b []line) []op {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{kind: ' ', text: a[i].text, noEOL: a[i].noEOL, a: i, b: j})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] > lcs[i+1][j]):
			ops = append(ops, op{kind: '+', text: b[j].text, noEOL: b[j].noEOL, a: i, b: j})
			j++
		default:
			ops = append(ops, op{kind: '-', text: a[i].text, noEOL: a[i].noEOL, a: i, b: j})
			i++
		}
	}
	return ops
}
