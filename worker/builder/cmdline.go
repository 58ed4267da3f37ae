package builder

import (
	"fmt"
	"strings"

	"github.com/fedora-fbs/fbs/tasks"
)

// udevEscape escapes a volume ID the way lorax's mkksiso (and udev's
// /dev/disk/by-label names) do: characters outside udev's whitelist become
// \xNN, so "Fedora 41" is "Fedora\x2041" in hd:LABEL=.
func udevEscape(label string) string {
	const blacklist = " !\"$%&'()*,/;<>?[\\]^`{|}~"
	var b strings.Builder
	for i := 0; i < len(label); i++ {
		c := label[i]
		if c < 32 || strings.IndexByte(blacklist, c) >= 0 {
			fmt.Fprintf(&b, `\x%02x`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// splitArgs splits a kernel command line at blanks, keeping double-quoted
// parts (quotes included) inside their argument and backslashes as they are.
func splitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
			inArg = true
			cur.WriteByte(c)
		case (c == ' ' || c == '\t') && !quoted:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			inArg = true
			cur.WriteByte(c)
		}
	}
	if quoted {
		return nil, fmt.Errorf("unbalanced double quote in %q", s)
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

// argKey is the name of a kernel argument: what comes before "=".
func argKey(arg string) string {
	k, _, _ := strings.Cut(arg, "=")
	return k
}

// kernelEdit is what is done to every kernel command line of a boot menu.
type kernelEdit struct {
	// remove lists argument names to drop, e.g. "inst.ks".
	remove []string
	// add lists arguments appended, in order.
	add []string
	// replace are text replacements made in every line before the kernel
	// line is edited, in order: [ksiso] replace, then the old volume ID's
	// hd:LABEL= form for the new one's (mkksiso -R and -V).
	replace []tasks.Replace
	// relabel, when set, is the volume ID change written into GRUB's
	// search -l/--label lines (the raw label, quoted).
	relabel *relabel
}

// line edits one line of a boot configuration if its first word is one of
// cmds (and, when needInitrd, it has an initrd= argument, which is what makes
// an isolinux append line a kernel line). It reports whether it changed it.
func (e kernelEdit) line(line string, cmds []string, needInitrd bool) (string, bool, error) {
	body := strings.TrimLeft(line, " \t")
	indent := line[:len(line)-len(body)]
	word, rest, _ := strings.Cut(body, " ")
	if i := strings.IndexByte(word, '\t'); i >= 0 {
		word, rest = word[:i], word[i+1:]+" "+rest
	}
	match := false
	for _, c := range cmds {
		match = match || word == c
	}
	if !match {
		return line, false, nil
	}
	args, err := splitArgs(rest)
	if err != nil {
		return "", false, err
	}
	if needInitrd {
		hasInitrd := false
		for _, a := range args {
			hasInitrd = hasInitrd || argKey(a) == "initrd"
		}
		if !hasInitrd {
			return line, false, nil
		}
	}
	return indent + word + " " + strings.Join(e.args(args), " "), true, nil
}

// args edits one kernel command line's arguments: those named in remove
// go, then add is appended.
func (e kernelEdit) args(args []string) []string {
	kept := args[:0]
	for _, a := range args {
		drop := false
		for _, r := range e.remove {
			drop = drop || argKey(a) == r
		}
		if !drop {
			kept = append(kept, a)
		}
	}
	return append(kept, e.add...)
}

// config edits every kernel line of a boot configuration file's text and
// returns the new text and how many lines it changed.
func (e kernelEdit) config(text string, cmds []string, needInitrd bool) (string, int, error) {
	lines := strings.Split(text, "\n")
	n := 0
	for i, l := range lines {
		body, cr := strings.CutSuffix(l, "\r")
		text := e.rewrite(body)
		nl, changed, err := e.line(text, cmds, needInitrd)
		changed = changed || text != body
		if err != nil {
			return "", 0, fmt.Errorf("line %d: %w", i+1, err)
		}
		if changed {
			n++
			if cr {
				nl += "\r"
			}
			lines[i] = nl
		}
	}
	return strings.Join(lines, "\n"), n, nil
}
