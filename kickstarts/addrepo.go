package kickstarts

import "strings"

// AddRepo adds a `repo --name=NAME --baseurl=URL` line to a flattened
// kickstart, after its last repo line or else before its first section;
// it is idempotent per name: if a repo of that name is there, ks is
// returned unchanged.
func AddRepo(ks, name, baseURL string) string {
	lines := strings.SplitAfter(ks, "\n")
	insert := -1   // index to insert before
	firstSec := -1 // first section header
	inSec := false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if inSec {
			inSec = !sectionEnd(t)
			continue
		}
		if sectionStart(t) {
			inSec = true
			if firstSec < 0 {
				firstSec = i
			}
			continue
		}
		args, err := splitArgs(t, true)
		if err != nil || len(args) == 0 || args[0] != "repo" {
			continue
		}
		if repoName(args[1:]) == name {
			return ks
		}
		insert = i + 1
	}
	line := joinArgs([]string{"repo", "--name=" + name, "--baseurl=" + baseURL}) + "\n"
	switch {
	case insert >= 0:
	case firstSec >= 0:
		insert = firstSec
		line += "\n"
	default:
		if ks != "" && !strings.HasSuffix(ks, "\n") {
			line = "\n" + line
		}
		return ks + line
	}
	if insert > 0 && !strings.HasSuffix(lines[insert-1], "\n") {
		line = "\n" + line
	}
	out := make([]string, 0, len(lines)+1)
	out = append(out, lines[:insert]...)
	out = append(out, line)
	out = append(out, lines[insert:]...)
	return strings.Join(out, "")
}

// repoName finds the --name of a repo command's arguments.
func repoName(args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--name="); ok {
			return v
		}
		if a == "--name" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// sectionStart reports whether a trimmed line opens a section (%packages,
// %post...); %include is a command.
func sectionStart(t string) bool {
	return strings.HasPrefix(t, "%") && !strings.HasPrefix(t, "%include")
}

// sectionEnd reports whether a trimmed line closes a section.
func sectionEnd(t string) bool {
	return t == "%end" || strings.HasPrefix(t, "%end ") || strings.HasPrefix(t, "%end\t")
}
