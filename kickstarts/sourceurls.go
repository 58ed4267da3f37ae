package kickstarts

import "strings"

// SourceURL is a URL a kickstart's installation source commands name: the
// tools that install from a kickstart on a build host (pungi,
// livemedia-creator, livecd-creator) connect to it.
type SourceURL struct {
	// Line is the line of the kickstart text it is on, from 1.
	Line int
	// Command and Option say where it is: "repo" "--baseurl".
	Command, Option string
	// URL is the option's value.
	URL string
}

// sourceOptions returns the options of a source command whose values are
// URLs; nil for any other command. (A switch, not a map: no work when
// the package loads.)
func sourceOptions(command string) []string {
	switch command {
	case "url", "repo":
		return []string{"--url", "--baseurl", "--mirrorlist", "--metalink", "--proxy"}
	case "liveimg":
		return []string{"--url", "--proxy"}
	case "ostreesetup":
		return []string{"--url"}
	}
	return nil
}

// SourceURLs lists the URLs of the installation source commands (url,
// repo, liveimg, ostreesetup) of a flattened kickstart, outside sections,
// in the order they appear. Lines that do not split are skipped: the
// kickstart was validated before.
func SourceURLs(ks string) []SourceURL {
	var out []SourceURL
	inSec := false
	for i, l := range strings.Split(ks, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case inSec:
			inSec = !sectionEnd(t)
			continue
		case sectionStart(t):
			inSec = true
			continue
		}
		args, err := splitArgs(t, true)
		if err != nil || len(args) == 0 {
			continue
		}
		opts := sourceOptions(args[0])
		for j := 1; j < len(args); j++ {
			name, val, hasVal := strings.Cut(args[j], "=")
			for _, o := range opts {
				if name != o {
					continue
				}
				if !hasVal && j+1 < len(args) {
					j++
					val = args[j]
				}
				out = append(out, SourceURL{Line: i + 1, Command: args[0], Option: o, URL: val})
			}
		}
	}
	return out
}
