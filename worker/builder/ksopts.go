package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedora-fbs/fbs/tasks"
)

// This file holds lorax's mkksiso options as ksiso applies them ([ksiso]
// rm_args, updates, add, volid, replace; lorax's docs/mkksiso.rst and
// src/pylorax/cmdline/mkksiso.py are the reference):
//
//   - rm_args: every argument whose name is listed goes from every kernel
//     line, whatever its value, before the new arguments are added.
//   - updates: the image goes to the ISO root under its name, and every
//     kernel line gets inst.updates=hd:LABEL=<volume ID>:/<name>.
//   - add: each file or directory goes to the ISO root under its name.
//   - volid: the ISO gets the new volume ID; the old one's hd:LABEL= form
//     (udev-escaped) becomes the new one's in every line of every boot
//     configuration, and so do GRUB's search -l/--label lines (the raw
//     label: mkksiso reaches them only when the label needs no escaping).
//   - replace: each FROM becomes TO in every line of every boot
//     configuration, before the kernel lines are edited.
//
// Unlike mkksiso, add and updates name files in the worker's iso_dir
// (Job.FilesDir), never paths: a request chooses no file on a worker.

// relabel is a volume ID change.
type relabel struct{ from, to string }

// ksFile is a file or directory ksiso puts at the ISO root.
type ksFile struct {
	// local is the path on the worker; name the name at the ISO root.
	local, name string
}

// ksFiles resolves [ksiso] updates and add in dir (Job.FilesDir): each a
// bare name, checked again here, of an existing file (or, for add, a
// directory) that is not already at the ISO root (top holds the names
// there). The updates image comes first.
func ksFiles(dir string, k *tasks.KSISOSpec, top map[string]bool) ([]ksFile, error) {
	type want struct {
		field, name string
		dirOK       bool
	}
	var wants []want
	if k.Updates != "" {
		wants = append(wants, want{"updates", k.Updates, false})
	}
	for _, a := range k.Add {
		wants = append(wants, want{"add", a, true})
	}
	if len(wants) > 0 && dir == "" {
		return nil, fmt.Errorf("[ksiso] %s: this worker has no iso_dir to take files from", wants[0].field)
	}
	var out []ksFile
	for _, w := range wants {
		if err := tasks.CheckISOName(w.name); err != nil {
			return nil, fmt.Errorf("[ksiso] %s: %w", w.field, err)
		}
		if top[strings.ToLower(w.name)] {
			return nil, fmt.Errorf("[ksiso] %s: %q is already at the root of the boot ISO", w.field, w.name)
		}
		p := filepath.Join(dir, w.name)
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			return nil, fmt.Errorf("[ksiso] %s: %q in the worker's iso_dir: %w", w.field, w.name, err)
		case fi.IsDir() && !w.dirOK, !fi.IsDir() && !fi.Mode().IsRegular():
			return nil, fmt.Errorf("[ksiso] %s: %q in the worker's iso_dir is not a regular file", w.field, w.name)
		}
		// xorriso maps a symbolic link as a link: give it the target.
		if p, err = filepath.EvalSymlinks(p); err != nil {
			return nil, fmt.Errorf("[ksiso] %s: %q: %w", w.field, w.name, err)
		}
		out = append(out, ksFile{local: p, name: w.name})
	}
	return out, nil
}

// ksEdit returns the edit of every boot configuration for a kickstart ISO
// of volume ID volID (the input's) made under k, which may be nil: the
// replacements, then on each kernel line the removal of inst.ks and
// rm_args, then inst.ks= on the kickstart at the ISO root, inst.updates=
// when there is an updates image, and cmdline.
func ksEdit(volID string, k *tasks.KSISOSpec) (kernelEdit, error) {
	if k == nil {
		k = &tasks.KSISOSpec{}
	}
	// Checked at submit; checked again here, since what breaks out of the
	// kernel line would write the boot menus.
	if err := tasks.CheckKernelCmdline(k.Cmdline); err != nil {
		return kernelEdit{}, fmt.Errorf("[ksiso] cmdline: %w", err)
	}
	if err := k.CheckOptions(); err != nil {
		return kernelEdit{}, fmt.Errorf("[ksiso] %w", err)
	}
	extra, err := splitArgs(k.Cmdline)
	if err != nil {
		return kernelEdit{}, fmt.Errorf("[ksiso] cmdline: %w", err)
	}
	for _, a := range extra {
		if argKey(a) == "inst.ks" {
			return kernelEdit{}, fmt.Errorf("[ksiso] cmdline %q sets inst.ks, which points at the injected kickstart", k.Cmdline)
		}
	}
	label := udevEscape(volID)
	e := kernelEdit{remove: []string{"inst.ks"}, replace: append([]tasks.Replace(nil), k.Replace...)}
	if k.VolID != "" && k.VolID != volID {
		e.replace = append(e.replace, tasks.Replace{From: label, To: udevEscape(k.VolID)})
		e.relabel = &relabel{from: volID, to: k.VolID}
		label = udevEscape(k.VolID)
	}
	for _, r := range strings.Fields(k.RmArgs) {
		if r != "inst.ks" {
			e.remove = append(e.remove, r)
		}
	}
	e.add = []string{"inst.ks=hd:LABEL=" + label + ":/ks.cfg"}
	if k.Updates != "" {
		e.add = append(e.add, "inst.updates=hd:LABEL="+label+":/"+k.Updates)
	}
	e.add = append(e.add, extra...)
	return e, nil
}

// rewrite makes the edit's text changes in one line: the search label,
// then the replacements.
func (e kernelEdit) rewrite(line string) string {
	if e.relabel != nil {
		line = e.relabel.search(line)
	}
	for _, r := range e.replace {
		line = strings.ReplaceAll(line, r.From, r.To)
	}
	return line
}

// search changes the label of a GRUB search line (search -l LABEL,
// --label LABEL or --label=LABEL, the label bare or quoted) from r.from to
// r.to, written in single quotes. Other lines are returned as they are.
func (r *relabel) search(line string) string {
	body := strings.TrimLeft(line, " \t")
	if f := strings.Fields(body); len(f) == 0 || f[0] != "search" {
		return line
	}
	unquote := func(w string) string {
		if len(w) >= 2 && (w[0] == '\'' || w[0] == '"') && w[len(w)-1] == w[0] {
			return w[1 : len(w)-1]
		}
		return w
	}
	// Split at blanks outside quotes: a quoted label may hold blanks.
	var words []string
	var quote byte
	start := -1
	for i := 0; i <= len(body); i++ {
		switch {
		case i < len(body) && quote != 0:
			if body[i] == quote {
				quote = 0
			}
		case i < len(body) && (body[i] == '\'' || body[i] == '"'):
			quote = body[i]
			if start < 0 {
				start = i
			}
		case i == len(body) || body[i] == ' ' || body[i] == '\t':
			if start >= 0 {
				words = append(words, body[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if quote != 0 {
		return line
	}
	changed := false
	for i, w := range words {
		switch {
		case (w == "-l" || w == "--label") && i+1 < len(words) && unquote(words[i+1]) == r.from:
			words[i+1] = "'" + r.to + "'"
			changed = true
		case strings.HasPrefix(w, "--label=") && unquote(strings.TrimPrefix(w, "--label=")) == r.from:
			words[i] = "--label='" + r.to + "'"
			changed = true
		}
	}
	if !changed {
		return line
	}
	return line[:len(line)-len(body)] + strings.Join(words, " ")
}

// prm edits an s390x parameter file (images/generic.prm,
// images/cdboot.prm) as mkksiso does: its lines are one kernel command
// line, which gets the replacements and the kernel line edit, and is
// written back broken at blanks between arguments into lines of at most
// 80 columns.
func (e kernelEdit) prm(text string) (string, error) {
	var parts []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	args, err := splitArgs(e.rewrite(strings.Join(parts, " ")))
	if err != nil {
		return "", err
	}
	kept := e.args(args)
	var b strings.Builder
	cols := 0
	for i, a := range kept {
		switch {
		case i == 0:
		case cols+1+len(a) > 80:
			b.WriteByte('\n')
			cols = 0
		default:
			b.WriteByte(' ')
			cols++
		}
		b.WriteString(a)
		cols += len(a)
	}
	b.WriteByte('\n')
	return b.String(), nil
}
