package kickstarts

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// parser reads a kickstart and what it includes into a doc, following
// pykickstart's state machine: commands outside sections, section bodies
// until %end, %include anywhere, the parse state carried across files.
type parser struct {
	ctx context.Context
	syn *syntax
	// std resolves the includes not found beside the including file.
	std  *shelf
	secs map[string]*sectionSpec
	d    *doc

	// validate makes unknown commands and bad package entries errors and
	// keeps going after errors, collecting them all.
	validate bool
	problems []Problem

	sec     *sectionSpec // the open section; nil in the command part
	cur     *section     // the open non-%packages section
	secFile string
	secLine int
	// secDepth is the include depth of the file that opened the section:
	// a section must end in that file (pykickstart loses or misplaces lines
	// otherwise).
	secDepth int

	// seen records where each command class was first used, for the
	// commands that conflict with others.
	seen map[*command]string

	depth    int
	includes int
	total    int
	lines    int
	// dropped counts the problems beyond maxProblems.
	dropped int
	stack   []frame
}

// frame is a file being read and, once it includes another, the line
// that did.
type frame struct {
	name, key string
	line      int
}

func newParser(ctx context.Context, syn *syntax, std *shelf, validate bool) *parser {
	return &parser{ctx: ctx, syn: syn, std: std, secs: syn.sectionSpecs(), d: newDoc(), validate: validate, seen: make(map[*command]string)}
}

// fatal errors stop even a validation: limits and cancellation.
func fatal(err error) bool {
	return errors.Is(err, ErrLimit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fail records err. While validating it goes on (returns nil) unless the
// error is fatal; otherwise it stops.
func (p *parser) fail(err error) error {
	if !p.validate || fatal(err) {
		return err
	}
	pr := Problem{Severity: "error", Message: err.Error()}
	var pe *ParseError
	if errors.As(err, &pe) {
		pr.File, pr.Line = pe.File, pe.Line
		pr.Message = strings.TrimPrefix(err.Error(), fmt.Sprintf("%s:%d: ", pe.File, pe.Line))
	}
	p.addProblem(pr)
	return nil
}

// addProblem keeps a problem, up to maxProblems; the rest are counted.
func (p *parser) addProblem(pr Problem) {
	if len(p.problems) >= maxProblems {
		p.dropped++
		return
	}
	p.problems = append(p.problems, pr)
}

func (p *parser) errorf(file string, line int, format string, args ...any) error {
	return p.fail(&ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warn(file string, line int, format string, args ...any) {
	p.addProblem(Problem{File: file, Line: line, Severity: "warning", Message: fmt.Sprintf(format, args...)})
}

// run reads the main file and checks that no section is left open.
func (p *parser) run(src source, data []byte) error {
	defer func() {
		if p.dropped > 0 {
			sev := "warning"
			if p.validate {
				sev = "error"
			}
			p.problems = append(p.problems, Problem{File: src.name(), Severity: sev, Message: fmt.Sprintf("%d more problems not shown", p.dropped)})
		}
	}()
	if err := p.readFile(src, data); err != nil {
		return err
	}
	if p.sec != nil {
		err := p.errorf(p.secFile, p.secLine, "section %s is not closed with %%end", p.sec.name)
		p.sec, p.cur = nil, nil
		return err
	}
	return nil
}

func (p *parser) readFile(src source, data []byte) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	p.total += len(data)
	if p.total > maxTotalSize {
		return &ParseError{File: src.name(), Msg: fmt.Sprintf("kickstart tree is larger than %d bytes in all", maxTotalSize), Err: ErrLimit}
	}
	p.stack = append(p.stack, frame{name: src.name(), key: src.key()})
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	// A file that starts inside a section (included from one) has its
	// leading blank and comment lines dropped, as pykickstart does.
	leadIn := p.sec != nil
	n := 0
	for rest := data; len(rest) > 0; {
		var raw []byte
		raw, rest = nextLine(rest)
		n++
		p.lines++
		if p.lines > maxTotalLines {
			return &ParseError{File: src.name(), Line: n, Msg: fmt.Sprintf("kickstart tree has more than %d lines in all", maxTotalLines), Err: ErrLimit}
		}
		if len(raw) > maxLineLength {
			return &ParseError{File: src.name(), Line: n, Msg: fmt.Sprintf("line longer than %d bytes", maxLineLength), Err: ErrLimit}
		}
		line := string(raw)
		var err error
		if p.sec == nil || leadIn {
			err = p.commandLine(src, n, line, &leadIn)
		} else {
			err = p.sectionLine(src, n, line)
		}
		if err != nil {
			return err
		}
	}
	if p.sec != nil && p.secDepth == len(p.stack) && len(p.stack) > 1 {
		err := p.errorf(p.secFile, p.secLine, "section %s is not closed with %%end in the file that opened it", p.sec.name)
		p.sec, p.cur = nil, nil
		return err
	}
	return nil
}

// nextLine splits off the first line of data where Python's splitlines,
// which pykickstart reads files with, would: at \n, \r\n, \r, \v, \f,
// \x1c-\x1e, U+0085, U+2028 and U+2029.
func nextLine(data []byte) (line, rest []byte) {
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e:
			return data[:i], data[i+1:]
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				return data[:i], data[i+2:]
			}
			return data[:i], data[i+1:]
		case 0xc2:
			if i+1 < len(data) && data[i+1] == 0x85 {
				return data[:i], data[i+2:]
			}
		case 0xe2:
			if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xa8 || data[i+2] == 0xa9) {
				return data[:i], data[i+3:]
			}
		}
	}
	return data, nil
}

func isBlankOrComment(line string) bool {
	t := strings.TrimLeft(line, " \t\v\f\r")
	return t == "" || t[0] == '#'
}

// commandLine handles a line read in the command part, or the first lines
// of a file included inside a section.
func (p *parser) commandLine(src source, n int, line string, leadIn *bool) error {
	if isBlankOrComment(line) {
		return nil
	}
	args, err := splitArgs(line, true)
	if err != nil {
		return p.fail(&ParseError{File: src.name(), Line: n, Err: err})
	}
	if len(args) == 0 {
		return nil
	}
	if args[0] == "%include" {
		return p.include(src, n, args)
	}
	if *leadIn {
		*leadIn = false
		if p.sec != nil {
			return p.sectionLine(src, n, line)
		}
	}
	switch {
	case args[0] == "%ksappend":
		p.warn(src.name(), n, "%%ksappend is not supported by ksflatten and is ignored")
		return nil
	case args[0] == "":
		return p.errorf(src.name(), n, "empty command")
	case args[0][0] == '%':
		return p.openSection(src, n, args)
	}
	return p.command(src, n, line, args)
}

// command handles one command line.
func (p *parser) command(src source, n int, line string, args []string) error {
	name := args[0]
	// Trim only leading blanks the tokenizer skips: trailing ones may be
	// escaped, and the line must read back as the same command.
	text := strings.TrimLeft(line, " \t\r\n")
	cmd := p.syn.commands[name]
	if cmd == nil {
		if p.validate {
			return p.errorf(src.name(), n, "unknown command %s", name)
		}
		p.warn(src.name(), n, "unknown command %s kept as it is", name)
		p.d.items = append(p.d.items, item{line: text})
		return nil
	}
	switch cmd.kind {
	case kindRemoved:
		return p.errorf(src.name(), n, "%s has been removed.", name)
	case kindDeprecated:
		p.warn(src.name(), n, "%s is deprecated and has no effect; dropped", name)
		return nil
	case kindRaw:
		raw := strings.TrimPrefix(text, name)
		if t := strings.TrimSpace(raw); !strings.HasSuffix(t, `\`) {
			raw = t
		} else {
			raw = strings.TrimLeft(raw, " \t\r\n\v\f")
		}
		p.d.applySingle(cmd, name, nil, raw)
		return nil
	}
	for _, c := range cmd.conflicts {
		if other := p.syn.commands[c]; other != nil && p.seen[other] != "" {
			return p.errorf(src.name(), n, "%s cannot be used with %s (%s)", name, c, p.seen[other])
		}
	}
	if p.seen[cmd] == "" {
		p.seen[cmd] = fmt.Sprintf("%s at %s:%d", name, src.name(), n)
	}
	pa, err := cmd.parseArgs(name, args[1:])
	if err != nil {
		return p.fail(&ParseError{File: src.name(), Line: n, Err: err})
	}
	for _, w := range pa.warnings {
		p.warn(src.name(), n, "%s", w)
	}
	if cmd.kind == kindMulti {
		p.d.items = append(p.d.items, item{line: text})
		return nil
	}
	p.d.applySingle(cmd, name, pa, "")
	return nil
}

// openSection handles a section header in the command part.
func (p *parser) openSection(src source, n int, args []string) error {
	name := args[0]
	spec := p.secs[name]
	if spec == nil {
		var err error
		if name == "%end" {
			err = p.errorf(src.name(), n, "%%end without a section")
			return err
		}
		err = p.errorf(src.name(), n, "unknown section %s", name)
		if err != nil {
			return err
		}
		// Validating: skip the unknown section's body.
		spec = &sectionSpec{name: name, kind: secNull, allLines: true}
		p.sec, p.cur, p.secFile, p.secLine, p.secDepth = spec, nil, src.name(), n, len(p.stack)
		return nil
	}
	p.sec, p.secFile, p.secLine, p.secDepth = spec, src.name(), n, len(p.stack)
	var pa *parsedArgs
	if spec.header != nil {
		var err error
		pa, err = spec.header.parseArgs(name, args[1:])
		if err != nil {
			// The body is still read, so %end closes this section.
			p.cur = nil
			if spec.kind == secPackages {
				p.sec = &sectionSpec{name: name, kind: secNull, allLines: true}
			}
			return p.fail(&ParseError{File: src.name(), Line: n, Err: err})
		}
		for _, w := range pa.warnings {
			p.warn(src.name(), n, "%s", w)
		}
	}
	if spec.kind == secPackages {
		pk := &p.d.pkgs
		pk.seen = true
		if pk.header == nil {
			pk.header = &single{cmd: spec.header, name: name, vals: make(map[string][]string)}
		}
		pk.header.merge(pa)
		p.cur = nil
		return nil
	}
	p.cur = &section{spec: spec, header: args}
	return nil
}

// sectionLine handles a line inside a section.
func (p *parser) sectionLine(src source, n int, line string) error {
	if !p.sec.allLines && isBlankOrComment(line) {
		return nil
	}
	if t := strings.TrimLeft(line, " \t\v\f\r"); strings.HasPrefix(t, "%") {
		first := strings.Fields(t)[0]
		if p.secs[first] != nil || first == "%end" || first == "%include" {
			args, err := splitArgs(line, false)
			if err != nil {
				return p.fail(&ParseError{File: src.name(), Line: n, Err: err})
			}
			switch args[0] {
			case "%end":
				if p.secDepth != len(p.stack) {
					err := p.errorf(src.name(), n, "%%end closes section %s opened in %s:%d: a section must end in the file that opened it", p.sec.name, p.secFile, p.secLine)
					if err != nil {
						return err
					}
				}
				p.closeSection()
				return nil
			case "%include":
				return p.include(src, n, args)
			}
			if p.secs[args[0]] == nil {
				// "%end" followed by a character Fields splits on and
				// the tokenizer does not: pykickstart drops the line.
				return nil
			}
			err = p.errorf(p.secFile, p.secLine, "section %s is not closed with %%end before %s at %s:%d", p.sec.name, args[0], src.name(), n)
			if err != nil {
				return err
			}
			p.closeSection()
			return p.openSection(src, n, args)
		}
	}
	switch {
	case p.sec.kind == secPackages:
		if err := p.d.pkgs.addLine(line); err != nil {
			return p.fail(&ParseError{File: src.name(), Line: n, Err: err})
		}
		if msg := checkPackageEntry(line); msg != "" {
			if p.validate {
				return p.errorf(src.name(), n, "%s", msg)
			}
			p.warn(src.name(), n, "%s", msg)
		}
	case p.cur != nil:
		p.cur.body = append(p.cur.body, line)
	}
	return nil
}

// closeSection ends the open section. Scripts with an empty body are
// dropped, as pykickstart drops them.
func (p *parser) closeSection() {
	if s := p.cur; s != nil {
		if s.spec.kind != secScript || strings.TrimSpace(strings.Join(s.body, " ")) != "" {
			p.d.sections = append(p.d.sections, s)
		}
	}
	p.sec, p.cur = nil, nil
}

// include reads the file an %include names, relative to the including
// file, with the parse state as it is.
func (p *parser) include(src source, n int, args []string) error {
	if len(args) < 2 || args[1] == "" {
		return p.errorf(src.name(), n, "%%include needs a file name")
	}
	if len(args) > 2 {
		p.warn(src.name(), n, "%%include takes one file name; %q ignored", strings.Join(args[2:], " "))
	}
	if p.depth >= maxIncludeDeep {
		return &ParseError{File: src.name(), Line: n, Msg: fmt.Sprintf("includes nested deeper than %d", maxIncludeDeep), Err: ErrLimit}
	}
	p.includes++
	if p.includes > maxIncludes {
		return &ParseError{File: src.name(), Line: n, Msg: fmt.Sprintf("more than %d includes", maxIncludes), Err: ErrLimit}
	}
	child, data, err := src.include(p.ctx, args[1])
	if errors.Is(err, ErrNotFound) && p.std != nil && !isURL(args[1]) && !path.IsAbs(args[1]) && !filepath.IsAbs(args[1]) {
		// Not beside the including file: a standard kickstart of the
		// release, as Fedora's spins include fedora-live-base.ks.
		switch c, d, serr := p.std.open(args[1]); {
		case serr == nil:
			child, data, err = c, d, nil
		case errors.Is(serr, ErrNotFound):
			err = fmt.Errorf("include %s: %w (not beside the including file, nor a standard kickstart%s)", args[1], ErrNotFound, p.std.where())
		default:
			err = serr
		}
	}
	if err != nil {
		return p.fail(&ParseError{File: src.name(), Line: n, Err: err})
	}
	p.stack[len(p.stack)-1].line = n
	for _, f := range p.stack {
		if f.key == child.key() {
			var chain []string
			for _, g := range p.stack {
				chain = append(chain, fmt.Sprintf("%s:%d", g.name, g.line))
			}
			chain = append(chain, child.name())
			return p.fail(&ParseError{File: src.name(), Line: n, Msg: "include cycle: " + strings.Join(chain, " -> ")})
		}
	}
	p.depth++
	defer func() { p.depth-- }()
	return p.readFile(child, data)
}

// checkPackageEntry says what is wrong with a %packages line, or "".
func checkPackageEntry(line string) string {
	e := strings.TrimSpace(line)
	if h, _, ok := strings.Cut(e, "#"); ok {
		e = strings.TrimSpace(h)
	}
	if e == "" {
		return ""
	}
	excluded := strings.HasPrefix(e, "-")
	e = strings.TrimPrefix(e, "-")
	if strings.HasPrefix(e, "@") {
		name := strings.TrimPrefix(strings.TrimPrefix(e, "@"), "^")
		for _, r := range name {
			if r < ' ' || r == 0x7f || strings.ContainsRune(`"'$;|&<>`+"`\\", r) {
				return fmt.Sprintf("%%packages: %q is not a valid group name", e)
			}
		}
		return ""
	}
	for _, r := range e {
		ok := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._+-*?[]()/:~^,=<>", r)
		if !ok {
			what := "package"
			if excluded {
				what = "excluded package"
			}
			return fmt.Sprintf("%%packages: %q is not a valid %s name", e, what)
		}
	}
	return ""
}
