package kickstarts

import (
	"slices"
	"strings"
)

// Mask is what a redacted secret reads as.
const Mask = "********"

// minLineSecret is the shortest secret Redaction.Line hides in other text:
// hiding every "x" of a log because a test kickstart's password is "x"
// would ruin the log and protect nothing.
const minLineSecret = 4

// Redaction is a kickstart with its secrets hidden: the values of rootpw,
// sshpw, every --password (user, bootloader...) and every --passphrase
// option (part, logvol, raid, autopart...), as the newest syntax's tables
// define them, whatever the form (--password=x, --password x, quoted,
// abbreviated as argparse allows, with --iscrypted or --plaintext).
type Redaction struct {
	// Text is the kickstart with each secret replaced by Mask; the
	// command lines holding one are written again with their words
	// quoted as needed (and any trailing comment dropped), every other
	// line is as it was.
	Text string
	// secrets are the values hidden, for Line.
	secrets []string
}

// Redact hides the secrets of kickstart text. Everything that shows a
// kickstart, or text quoting one, to anyone (pages, API, mails, the build
// log) shows Redact's result; only the kickstart file staged for the user
// keeps the secrets. Scripts (%pre, %post...) and %packages are not
// commands and are left as they are.
func Redact(text string) *Redaction {
	r := &Redaction{}
	syn, _ := lookupSyntax("")
	var b strings.Builder
	inSection := false
	// Lines end where pykickstart's end (nextLine), not only at "\n":
	// "lang C\rrootpw x" is two commands to anaconda.
	for data := []byte(text); len(data) > 0; {
		l, rest := nextLine(data)
		line, eol := string(l), string(data[len(l):len(data)-len(rest)])
		data = rest
		word := strings.Fields(line)
		switch {
		case len(word) == 0 || strings.HasPrefix(word[0], "#"):
		case word[0] == "%end":
			inSection = false
		case word[0] == "%include" || word[0] == "%ksappend":
		case strings.HasPrefix(word[0], "%"):
			inSection = true
		case !inSection:
			line = r.command(syn, line)
		}
		b.WriteString(line)
		b.WriteString(eol)
	}
	r.Text = b.String()
	return r
}

// secretDest reports whether an option storing into dest holds a secret.
func secretDest(dest string) bool {
	return dest == "password" || strings.HasSuffix(dest, "passphrase") && dest != "backuppassphrase"
}

// secretName reports whether an option name no table knows looks like a
// secret's, so that a misspelt or unknown option still hides its value.
func secretName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "--") && strings.Contains(n, "pass") && !strings.Contains(n, "backuppassphrase")
}

// command redacts one command line.
func (r *Redaction) command(syn *syntax, line string) string {
	args, err := splitArgs(line, true)
	if err != nil || len(args) == 0 {
		// Unbalanced quotes: anaconda would refuse it, but it may still
		// hold a secret.
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "rootpw" || f[0] == "sshpw" || strings.Contains(strings.ToLower(line), "pass")) {
			return f[0] + " " + Mask
		}
		return line
	}
	var cmd *command
	if syn != nil {
		cmd = syn.commands[args[0]]
	}
	var pos *option
	if cmd != nil {
		pos = cmd.positional()
	}
	changed, pending := false, false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if pending {
			r.hide(a)
			args[i], changed, pending = Mask, true, false
			continue
		}
		secret, takesValue, isOpt := false, true, strings.HasPrefix(a, "-") && len(a) > 1
		if cmd != nil {
			o, _, _, opt, err := cmd.classify(a)
			isOpt = opt
			switch {
			case opt && err == nil && o != nil:
				secret, takesValue = secretDest(o.dest), o.takesValue()
			case opt:
				secret = secretName(strings.SplitN(a, "=", 2)[0])
			}
		} else if isOpt {
			secret = secretName(strings.SplitN(a, "=", 2)[0])
		}
		switch {
		case isOpt && secret && takesValue:
			if name, val, ok := strings.Cut(a, "="); ok {
				r.hide(val)
				args[i], changed = name+"="+Mask, true
			} else {
				pending = true
			}
		case !isOpt && pos != nil && secretDest(pos.dest):
			r.hide(a)
			args[i], changed = Mask, true
		}
	}
	if !changed {
		return line
	}
	return args[0] + " " + joinArgs(args[1:])
}

func (r *Redaction) hide(secret string) {
	if secret != "" && !slices.Contains(r.secrets, secret) {
		r.secrets = append(r.secrets, secret)
	}
}

// Line hides the kickstart's secrets wherever they appear in s, a line of
// other text (a tool's output echoing the kickstart, a warning quoting a
// line of it). Secrets shorter than four characters are left: hiding them
// would garble the text and protect little.
func (r *Redaction) Line(s string) string {
	for _, v := range r.secrets {
		if len(v) >= minLineSecret {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}
