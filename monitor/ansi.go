package monitor

import (
	"strconv"
	"strings"
)

// span is a run of log text in one style; Class is made only from a fixed
// set of names, never from the log.
type span struct {
	Text  string
	Class string
}

// ansiSpans renders the SGR colour codes of a log line (30–37, 90–97, bold,
// resets) as styled spans and drops every other escape sequence (cursor
// moves, OSC titles...). The text itself is escaped by html/template.
// build.js does the same for the lines that arrive live.
func ansiSpans(s string) []span {
	s = sseText(s)
	if !strings.Contains(s, "\x1b") {
		return []span{{Text: s}}
	}
	var out []span
	fg, bold := -1, false
	class := func() string {
		var c []string
		if bold {
			c = append(c, "ab")
		}
		if fg >= 0 {
			c = append(c, "a"+strconv.Itoa(fg))
		}
		return strings.Join(c, " ")
	}
	var cur strings.Builder
	emit := func() {
		if cur.Len() > 0 {
			out = append(out, span{Text: cur.String(), Class: class()})
			cur.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] != 0x1b {
			cur.WriteByte(s[i])
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		switch s[i+1] {
		case '[': // CSI: parameters, then a final byte in @..~
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j >= len(s) {
				i = len(s)
				continue
			}
			if s[j] == 'm' {
				emit()
				for _, p := range strings.Split(s[i+2:j], ";") {
					n, err := strconv.Atoi(p)
					if p == "" {
						n, err = 0, nil
					}
					switch {
					case err != nil:
					case n == 0:
						fg, bold = -1, false
					case n == 1:
						bold = true
					case n == 22:
						bold = false
					case n >= 30 && n <= 37:
						fg = n - 30
					case n >= 90 && n <= 97:
						fg = n - 90 + 8
					case n == 39:
						fg = -1
					}
				}
			}
			i = j + 1
		case ']': // OSC: up to BEL or ESC \
			j := i + 2
			for j < len(s) && s[j] != 0x07 && !(s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\') {
				j++
			}
			switch {
			case j >= len(s):
				i = len(s)
			case s[j] == 0x07:
				i = j + 1
			default:
				i = j + 2
			}
		default: // a two-byte escape
			i += 2
		}
	}
	emit()
	return out
}
