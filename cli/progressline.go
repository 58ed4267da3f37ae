package cli

import (
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// lineWriter writes log lines for people. On a terminal, a run of progress
// lines (tasks.Progress.Line) is one line rewritten in place: a carriage
// return, the newest text cut to the terminal's width, and a clear to the
// end of the line; the next other line starts below the last progress
// shown. Anywhere else (a pipe, a file) every line is written as it is.
// It is safe for concurrent use.
type lineWriter struct {
	w io.Writer
	// width is the terminal's width in columns; 0 when w is not a
	// terminal.
	width int

	mu sync.Mutex
	// open is set while a progress line is on screen without its newline.
	open bool
}

// newLineWriter returns a lineWriter on w, which is a terminal when it is
// an *os.File whose window size the kernel knows.
func newLineWriter(w io.Writer) *lineWriter {
	l := &lineWriter{w: w}
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			l.width = int(ws.Col)
			if l.width == 0 {
				l.width = 80
			}
		}
	}
	return l
}

// Line writes one line; progress says it is a progress line.
func (l *lineWriter) Line(text string, progress bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	switch {
	case l.width == 0:
		b.WriteString(text)
		b.WriteByte('\n')
	case progress:
		b.WriteByte('\r')
		b.WriteString(cut(text, l.width-1))
		b.WriteString("\x1b[K")
		l.open = true
	default:
		if l.open {
			b.WriteByte('\n')
			l.open = false
		}
		b.WriteString(text)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(l.w, b.String())
	return err
}

// Close ends a progress line left open.
func (l *lineWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.open {
		return nil
	}
	l.open = false
	_, err := io.WriteString(l.w, "\n")
	return err
}

// cut shortens s to at most n characters (runes), so that a rewritten
// line never wraps: a carriage return goes back to the start of the last
// row only.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
