package kickstarts

import (
	"fmt"
	"slices"
	"strings"
)

// doc is the merged meaning of a kickstart tree as it is read.
type doc struct {
	items    []item // commands, in the order they first appear
	singles  map[*command]*single
	pkgs     packages
	sections []*section // scripts, %addon, %anaconda, %certificate, in order
}

func newDoc() *doc { return &doc{singles: make(map[*command]*single)} }

// item is one command line of the output: a merged single-instance command
// or a line kept verbatim (multi-use and unknown commands).
type item struct {
	single *single
	line   string
}

// single is the merged state of a single-instance command. Aliases share
// it; the name last used is the one that counts (text/graphical/cmdline,
// reboot/shutdown/halt/poweroff).
type single struct {
	cmd  *command
	name string
	vals map[string][]string
	pos  []string
	raw  string // kindRaw: the arguments as written
}

// section is a script, an %addon, %anaconda or %certificate section, kept
// with its header words and its body verbatim.
type section struct {
	spec   *sectionSpec
	header []string
	body   []string
}

// applySingle merges one line of a single-instance command into its state
// the way pykickstart does: options given replace the earlier value,
// options left out keep it unless they have a real default, which resets
// them.
func (d *doc) applySingle(cmd *command, name string, p *parsedArgs, raw string) {
	s := d.singles[cmd]
	if s == nil {
		s = &single{cmd: cmd, vals: make(map[string][]string)}
		d.singles[cmd] = s
		d.items = append(d.items, item{single: s})
	}
	s.name = name
	if cmd.kind == kindRaw {
		s.raw = raw
		return
	}
	s.merge(p)
}

func (s *single) merge(p *parsedArgs) {
	for i := range s.cmd.options {
		o := &s.cmd.options[i]
		if o.positional {
			continue
		}
		if v, ok := p.vals[o.dest]; ok {
			s.vals[o.dest] = v
		} else if s.cmd.destHasDefault(o.dest) || resetsWhenAbsent(s.cmd.class, o.dest) {
			delete(s.vals, o.dest)
		}
	}
	if pos := s.cmd.positional(); pos != nil {
		switch {
		case len(p.pos) > 0:
			s.pos = p.pos
		// argparse gives [] for an absent '*' positional, which resets it,
		// except the legacy keyboard layout, kept apart by pykickstart.
		case pos.nargs == "*" && pos.dest != "kbd":
			s.pos = nil
		}
	}
}

// resetsWhenAbsent lists the options whose commands assign the parsed value
// directly, None included, instead of through set_to_self.
func resetsWhenAbsent(class, dest string) bool {
	return strings.HasPrefix(class, "firstboot.") && dest == "firstboot"
}

// words renders the merged command as the words of one line.
func (s *single) words() []string {
	if s.cmd.kind == kindRaw {
		return nil
	}
	w := []string{s.name}
	done := make(map[string]bool)
	for i := range s.cmd.options {
		o := &s.cmd.options[i]
		if o.positional || done[o.dest] {
			continue
		}
		done[o.dest] = true
		w = append(w, s.vals[o.dest]...)
	}
	if len(s.pos) > 0 {
		if slices.ContainsFunc(s.pos, looksLikeOption) {
			w = append(w, "--")
		}
		w = append(w, s.pos...)
	}
	return w
}

// packages is the merged %packages section.
type packages struct {
	seen     bool
	header   *single // merged header options
	env      string
	hasEnv   bool
	groups   orderedSet        // selected group names, in order
	groupOpt map[string]string // their options
	exGroups []string
	pkgs     orderedSet
	excluded orderedSet
}

// orderedSet is a set of strings that remembers insertion order.
type orderedSet struct {
	idx   map[string]int
	items []string
	live  int
}

func (o *orderedSet) add(s string) {
	if o.idx == nil {
		o.idx = make(map[string]int)
	}
	if _, ok := o.idx[s]; ok {
		return
	}
	o.idx[s] = len(o.items)
	o.items = append(o.items, s)
	o.live++
}

func (o *orderedSet) has(s string) bool {
	_, ok := o.idx[s]
	return ok
}

func (o *orderedSet) remove(s string) {
	i, ok := o.idx[s]
	if !ok {
		return
	}
	delete(o.idx, s)
	o.items[i] = ""
	o.live--
	if len(o.items) > 64 && o.live < len(o.items)/2 {
		o.compact()
	}
}

func (o *orderedSet) compact() {
	items := make([]string, 0, o.live)
	for _, s := range o.items {
		if _, ok := o.idx[s]; ok && s != "" {
			o.idx[s] = len(items)
			items = append(items, s)
		}
	}
	o.items = items
}

func (o *orderedSet) list() []string {
	out := make([]string, 0, o.live)
	for i, s := range o.items {
		if j, ok := o.idx[s]; ok && j == i {
			out = append(out, s)
		}
	}
	return out
}

// addLine merges one line of a %packages body, as pykickstart's
// Packages.add does. It returns an error for lines that name nothing.
func (pk *packages) addLine(line string) error {
	entry := strings.TrimSpace(line)
	if h, _, ok := strings.Cut(entry, "#"); ok {
		entry = strings.TrimSpace(h)
	}
	switch {
	case entry == "":
		return nil
	case strings.HasPrefix(entry, "@^"):
		name := entry[2:]
		if name == "" {
			return fmt.Errorf("%%packages: %q names no environment", entry)
		}
		pk.env, pk.hasEnv = name, true
	case entry[0] == '@':
		return pk.addGroup(entry[1:])
	case strings.HasPrefix(entry, "-@^") && pk.hasEnv && pk.env == entry[3:]:
		pk.env, pk.hasEnv = "", false
	case strings.HasPrefix(entry, "-@"):
		name := entry[2:]
		if name == "" {
			return fmt.Errorf("%%packages: %q names no group", entry)
		}
		pk.groups.remove(name)
		pk.exGroups = append(pk.exGroups, name)
	case entry[0] == '-':
		name := entry[1:]
		if name == "" {
			return fmt.Errorf("%%packages: %q names no package", entry)
		}
		pk.pkgs.remove(name)
		pk.excluded.add(name)
	default:
		pk.excluded.remove(entry)
		pk.pkgs.add(entry)
	}
	return nil
}

// addGroup handles "@group [--nodefaults|--optional]": a group keeps the
// options it was first given.
func (pk *packages) addGroup(spec string) error {
	var words []string
	nodefaults, optional := false, false
	for _, w := range strings.Fields(spec) {
		switch {
		case len(w) > 2 && strings.HasPrefix("--nodefaults", w):
			nodefaults = true
		case len(w) > 2 && strings.HasPrefix("--optional", w):
			optional = true
		default:
			words = append(words, w)
		}
	}
	if nodefaults && optional {
		return fmt.Errorf("%%packages: group @%s: --nodefaults and --optional cannot be used together", spec)
	}
	name := strings.Join(words, " ")
	if name == "" {
		return fmt.Errorf("%%packages: %q names no group", "@"+spec)
	}
	if pk.groups.has(name) {
		return nil
	}
	if pk.groupOpt == nil {
		pk.groupOpt = make(map[string]string)
	}
	switch {
	case nodefaults:
		pk.groupOpt[name] = "--nodefaults"
	case optional:
		pk.groupOpt[name] = "--optional"
	default:
		delete(pk.groupOpt, name)
	}
	pk.groups.add(name)
	return nil
}

// write renders the merged %packages section. Excluded groups come first,
// so that a group both excluded and selected again reads back the same.
func (pk *packages) write(b *strings.Builder) {
	if !pk.seen {
		return
	}
	b.WriteString("\n")
	hdr := []string{"%packages"}
	if pk.header != nil {
		hdr = pk.header.words()
		hdr[0] = "%packages"
	}
	b.WriteString(joinArgs(hdr))
	b.WriteString("\n")
	for _, g := range pk.exGroups {
		b.WriteString("-@" + g + "\n")
	}
	if pk.hasEnv {
		b.WriteString("@^" + pk.env + "\n")
	}
	for _, g := range pk.groups.list() {
		b.WriteString("@" + g)
		if opt := pk.groupOpt[g]; opt != "" {
			b.WriteString(" " + opt)
		}
		b.WriteString("\n")
	}
	for _, p := range pk.pkgs.list() {
		b.WriteString(p + "\n")
	}
	for _, p := range pk.excluded.list() {
		b.WriteString("-" + p + "\n")
	}
	b.WriteString("%end\n")
}

// write renders the flattened kickstart.
func (d *doc) write(name, version string) string {
	var b strings.Builder
	b.WriteString("# Flattened by fbs from " + oneLine(name) + "\n")
	b.WriteString("#version=" + version + "\n")
	for _, it := range d.items {
		if it.single == nil {
			b.WriteString(it.line + "\n")
			continue
		}
		if it.single.cmd.kind == kindRaw {
			b.WriteString(it.single.name)
			if it.single.raw != "" {
				b.WriteString(" " + it.single.raw)
			}
			b.WriteString("\n")
			continue
		}
		b.WriteString(joinArgs(it.single.words()) + "\n")
	}
	d.pkgs.write(&b)
	for _, s := range d.sections {
		b.WriteString("\n")
		b.WriteString(joinArgs(s.header) + "\n")
		for _, l := range s.body {
			b.WriteString(l + "\n")
		}
		b.WriteString("%end\n")
	}
	return b.String()
}

// oneLine keeps a name on one comment line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
