package kickstarts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The syntax tables (syntax_table.go) are built on first use, not at
// start-up: every fbs command pays for package initialisation, and most
// never read a kickstart. Each is built once, so *command pointers stay
// comparable.
var (
	commandClasses  = sync.OnceValue(commandClassTable)
	versionCommands = sync.OnceValue(versionCommandTable)
)

// kind says how the commands of a class combine when given more than once.
type kind uint8

const (
	// kindSingle commands hold one state; a later line updates it option
	// by option.
	kindSingle kind = iota
	// kindMulti commands (part, repo, user...) accumulate in order.
	kindMulti
	// kindRaw commands (authselect, realm) take their arguments as text;
	// the last line wins.
	kindRaw
	// kindRemoved commands are errors in this syntax version.
	kindRemoved
	// kindDeprecated commands are ignored with a warning.
	kindDeprecated
)

// action is what an option does with the namespace, as in argparse.
type action uint8

const (
	actStore action = iota
	actStoreTrue
	actStoreFalse
	actStoreConst
	actAppend
	actAppendConst
	actExtend
)

// option is one option or positional argument of a command.
type option struct {
	names      []string // "--name" forms; empty for a positional
	positional bool
	dest       string
	act        action
	nargs      string // "", "1", "?" or "*"
	hasDefault bool   // a default other than None: absent means reset
	konst      string
	typ        string // "", "int", "commaSplit", "ksboolean", "mountpoint"
	choices    []string
	required   bool
	deprecated bool
}

// takesValue reports whether the option consumes an argument.
func (o *option) takesValue() bool {
	return o.act == actStore || o.act == actAppend || o.act == actExtend
}

// command is one command implementation; aliases share it.
type command struct {
	class   string
	kind    kind
	options []option
	// conflicts names the commands that cannot be used with this one.
	conflicts []string
}

// syntax is the command set of one kickstart syntax version.
type syntax struct {
	version string // the table's name, "F45"
	// label is how the flattened file names it on its #version= line:
	// version, or "DEVEL" for the development syntax.
	label    string
	commands map[string]*command
}

// develVersion is how pykickstart names the syntax of the release under
// development (rawhide): the newest, written as "#version=DEVEL".
const develVersion = "DEVEL"

// SyntaxVersion gives the kickstart syntax of a Fedora release: "F41" for
// "41", "DEVEL" for "rawhide" and for a release newer than the tables (its
// syntax is still the development one). A release older than the tables
// (the original service's specs name Fedora 17) gets the oldest syntax fbs
// knows, and flattening it warns so (olderThanTables): its spins still
// build, and a command removed since then is refused by name. Only a
// release that is not a number or "rawhide" is an error.
func SyntaxVersion(release string) (string, error) {
	if err := checkRelease(release); err != nil {
		return "", err
	}
	if release == "rawhide" {
		return develVersion, nil
	}
	n, _ := strconv.Atoi(release)
	vs := SupportedVersions()
	oldest, _ := strconv.Atoi(strings.TrimPrefix(vs[0], "F"))
	newest, _ := strconv.Atoi(strings.TrimPrefix(newestVersion, "F"))
	switch {
	case n < oldest:
		return vs[0], nil
	case n > newest:
		return develVersion, nil
	}
	return "F" + release, nil
}

// olderThanTables reports whether release is a number older than the
// oldest kickstart syntax fbs knows.
func olderThanTables(release string) bool {
	n, err := strconv.Atoi(release)
	if err != nil {
		return false
	}
	oldest, _ := strconv.Atoi(strings.TrimPrefix(SupportedVersions()[0], "F"))
	return n < oldest
}

// checkRelease checks a release is spelled as [releases] list spells them:
// a number or "rawhide".
func checkRelease(release string) error {
	if release == "rawhide" {
		return nil
	}
	if n, err := strconv.Atoi(release); err != nil || n <= 0 || n > 999 || strconv.Itoa(n) != release {
		return fmt.Errorf("release %q: want a number such as 41, or rawhide", release)
	}
	return nil
}

// lookupSyntax returns the syntax for version ("" means newest). Versions
// are spelled as pykickstart spells them ("F42"); "DEVEL" and "rawhide"
// mean the newest, written "#version=DEVEL" as pykickstart does.
func lookupSyntax(version string) (*syntax, error) {
	v := strings.ToUpper(strings.TrimSpace(version))
	label := ""
	switch v {
	case "":
		v = newestVersion
	case develVersion, "RAWHIDE":
		v, label = newestVersion, develVersion
	}
	if strings.HasPrefix(v, "FEDORA") {
		v = "F" + strings.TrimSpace(strings.TrimPrefix(v, "FEDORA"))
	}
	if _, err := strconv.Atoi(v); err == nil {
		v = "F" + v
	}
	names, ok := versionCommands()[v]
	if !ok {
		return nil, fmt.Errorf("kickstart syntax version %q is not supported (supported: %s)", version, strings.Join(SupportedVersions(), ", "))
	}
	if label == "" {
		label = v
	}
	s := &syntax{version: v, label: label, commands: make(map[string]*command, len(names))}
	for name, class := range names {
		s.commands[name] = commandClasses()[class]
	}
	return s, nil
}

// SupportedVersions lists the kickstart syntax versions fbs knows, oldest
// first; the last one is the default.
func SupportedVersions() []string {
	vc := versionCommands()
	vs := make([]string, 0, len(vc))
	for v := range vc {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b string) int {
		x, _ := strconv.Atoi(strings.TrimPrefix(a, "F"))
		y, _ := strconv.Atoi(strings.TrimPrefix(b, "F"))
		return x - y
	})
	return vs
}

// parsedArgs is what one command line set: the words that reproduce each
// destination's value, and the positional arguments.
type parsedArgs struct {
	vals     map[string][]string
	pos      []string
	warnings []string
}

// findOption finds a long option by exact name or, as argparse allows, by
// an unambiguous prefix.
func (c *command) findOption(name string) (*option, error) {
	var cands []*option
	var candNames []string
	for i := range c.options {
		o := &c.options[i]
		for _, n := range o.names {
			if n == name {
				return o, nil
			}
			if strings.HasPrefix(n, name) {
				cands = append(cands, o)
				candNames = append(candNames, n)
			}
		}
	}
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("unknown option %s", name)
	case 1:
		return cands[0], nil
	}
	return nil, fmt.Errorf("ambiguous option %s could match %s", name, strings.Join(candNames, ", "))
}

func (c *command) positional() *option {
	for i := range c.options {
		if c.options[i].positional {
			return &c.options[i]
		}
	}
	return nil
}

// classify tells an argument apart the way argparse does: an option of c
// (with its inline value, if any), or a positional. An argument that looks
// like an option but names none is an error.
func (c *command) classify(a string) (o *option, val string, hasVal bool, isOpt bool, err error) {
	if len(a) < 2 || a[0] != '-' {
		return nil, "", false, false, nil
	}
	name, val, hasVal := strings.Cut(a, "=")
	if !strings.HasPrefix(a, "--") {
		name, val, hasVal = a, "", false
	}
	o, err = c.findOption(name)
	if err == nil {
		return o, val, hasVal, true, nil
	}
	if strings.HasPrefix(err.Error(), "ambiguous") {
		return nil, "", false, true, err
	}
	if _, perr := strconv.ParseFloat(a, 64); perr == nil || strings.Contains(a, " ") {
		return nil, "", false, false, nil
	}
	return nil, "", false, true, err
}

// looksLikeOption reports whether argparse would take s for an option
// rather than a value, for a command with no options like it.
func looksLikeOption(s string) bool {
	if len(s) < 2 || s[0] != '-' || strings.Contains(s, " ") {
		return false
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return false
	}
	return true
}

// parseArgs parses the arguments of one line of command name the way
// pykickstart's option parser does, checking option names, values, types,
// choices and required options.
func (c *command) parseArgs(name string, args []string) (*parsedArgs, error) {
	p := &parsedArgs{vals: make(map[string][]string)}
	seen := make(map[*option]bool)
	onlyPos := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" && !onlyPos {
			onlyPos = true
			continue
		}
		var (
			o      *option
			val    string
			hasVal bool
			isOpt  bool
			err    error
		)
		if !onlyPos {
			o, val, hasVal, isOpt, err = c.classify(a)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		if !isOpt {
			p.pos = append(p.pos, a)
			continue
		}
		seen[o] = true
		if o.deprecated {
			p.warnings = append(p.warnings, fmt.Sprintf("%s: option %s is deprecated and has no effect", name, o.names[0]))
		}
		canonical := o.names[0]
		nextIsValue := func() bool {
			if i+1 >= len(args) {
				return false
			}
			_, _, _, isOpt, _ := c.classify(args[i+1])
			return !isOpt && args[i+1] != "--"
		}
		switch {
		case o.takesValue() && o.nargs == "?":
			if !hasVal && nextIsValue() {
				i++
				val, hasVal = args[i], true
			}
		case o.takesValue():
			if !hasVal {
				if !nextIsValue() {
					return nil, fmt.Errorf("%s: option %s expects a value", name, canonical)
				}
				i++
				val, hasVal = args[i], true
			}
		case hasVal:
			return nil, fmt.Errorf("%s: option %s takes no value (got %q)", name, canonical, val)
		}
		word := canonical
		if o.takesValue() && hasVal {
			if err := o.checkValue(name, val); err != nil {
				return nil, err
			}
			word = canonical + "=" + val
		}
		switch o.act {
		case actAppend, actAppendConst, actExtend:
			p.vals[o.dest] = append(p.vals[o.dest], word)
		default:
			p.vals[o.dest] = []string{word}
		}
	}
	for i := range c.options {
		o := &c.options[i]
		if o.required && !o.positional && !seen[o] && p.vals[o.dest] == nil {
			return nil, fmt.Errorf("%s: option %s is required", name, o.names[0])
		}
	}
	pos := c.positional()
	switch {
	case pos == nil && len(p.pos) > 0:
		return nil, fmt.Errorf("%s: unexpected argument %q", name, p.pos[0])
	case pos == nil:
	case (pos.nargs == "" || pos.nargs == "1") && len(p.pos) == 0:
		return nil, fmt.Errorf("%s: argument <%s> is required", name, pos.dest)
	case (pos.nargs == "" || pos.nargs == "1" || pos.nargs == "?") && len(p.pos) > 1:
		return nil, fmt.Errorf("%s: unexpected argument %q", name, p.pos[1])
	}
	if pos != nil {
		for _, v := range p.pos {
			if err := pos.checkValue(name, v); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// checkValue checks a value against the option's type and choices.
func (o *option) checkValue(cmd, v string) error {
	what := "argument <" + o.dest + ">"
	if len(o.names) > 0 {
		what = "option " + o.names[0]
	}
	switch o.typ {
	case "int":
		if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%s: %s: invalid integer %q", cmd, what, v)
		}
	case "ksboolean":
		switch strings.ToLower(v) {
		case "on", "yes", "true", "1", "off", "no", "false", "0":
		default:
			return fmt.Errorf("%s: %s: invalid boolean %q", cmd, what, v)
		}
	}
	if o.choices != nil && !slices.Contains(o.choices, v) {
		return fmt.Errorf("%s: %s: invalid choice %q (choose from %s)", cmd, what, v, strings.Join(o.choices, ", "))
	}
	return nil
}

// hasDefault reports whether dest has a real (non-None) default, so that a
// line leaving it out resets it, as pykickstart's set_to_self does.
func (c *command) destHasDefault(dest string) bool {
	for i := range c.options {
		if c.options[i].dest == dest && c.options[i].hasDefault {
			return true
		}
	}
	return false
}
