package kickstarts

import "strings"

// splitArgs splits a kickstart line into words the way pykickstart does
// (Python's shlex.split in POSIX mode): single quotes are literal, double
// quotes honour backslash before " and \, a backslash outside quotes escapes
// any character, and with comments set a '#' outside quotes ends the line,
// even in the middle of a word. It fails on an unclosed quote or a trailing
// backslash.
func splitArgs(s string, comments bool) ([]string, error) {
	var (
		args   []string
		tok    strings.Builder
		inTok  bool // a word has started (possibly empty, as in "")
		quote  byte // 0, '\'' or '"'
		escape bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escape:
			if quote == '"' && c != '"' && c != '\\' {
				tok.WriteByte('\\')
			}
			tok.WriteByte(c)
			escape = false
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				tok.WriteByte(c)
			}
		case quote == '"':
			switch c {
			case '"':
				quote = 0
			case '\\':
				escape = true
			default:
				tok.WriteByte(c)
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if inTok {
				args = append(args, tok.String())
				tok.Reset()
				inTok = false
			}
		case c == '#' && comments:
			if inTok {
				args = append(args, tok.String())
			}
			return args, nil
		case c == '\'' || c == '"':
			quote = c
			inTok = true
		case c == '\\':
			escape = true
			inTok = true
		default:
			tok.WriteByte(c)
			inTok = true
		}
	}
	if escape {
		return nil, errTrailingBackslash
	}
	if quote != 0 {
		return nil, errNoClosingQuote
	}
	if inTok {
		args = append(args, tok.String())
	}
	return args, nil
}

// quoteArg renders s so that splitArgs gives s back as one word.
func quoteArg(s string) string {
	if s == "" {
		return "''"
	}
	if !strings.ContainsAny(s, " \t\r\n'\"\\#") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// joinArgs renders words as one line splitArgs splits back into them.
func joinArgs(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteArg(a))
	}
	return b.String()
}
