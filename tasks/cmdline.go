package tasks

import (
	"fmt"
	"strings"
)

// cmdlineForbidden are the characters that mean something to the boot
// menus a kernel command line is written into rather than to the kernel:
// in grub.cfg a command ends at ';', '|', '&' or a newline, '{' '}' open
// and close blocks, '$' expands variables, '\' and '\” quote, '<' '>' and
// '#' are reserved or start comments, '[' ']' '*' '?' are globs; in
// isolinux.cfg a line ends the entry.
const cmdlineForbidden = ";|&{}$\\'`<>#[]*?"

// CheckKernelCmdline is the rule of a value that lands on a kernel command
// line in a boot menu (the cmdline= of [ksiso]): printable ASCII, words
// separated by spaces, double quotes only in balanced pairs (the kernel's
// own quoting of a value with spaces), none of the characters grub or
// isolinux would read as syntax, and at most MaxCmdline bytes (the
// kernel's own limit on x86 is 2048, and the boot menu adds arguments). So a value
// can neither end the kernel line nor add a menu entry in either syntax.
func CheckKernelCmdline(s string) error {
	if len(s) > MaxCmdline {
		return fmt.Errorf("%d bytes: at most %d", len(s), MaxCmdline)
	}
	quotes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("control character %q at byte %d: a kernel command line is one line of printable characters", c, i+1)
		case c > 0x7e:
			return fmt.Errorf("non-ASCII byte 0x%02x at byte %d: a kernel command line is printable ASCII", c, i+1)
		case strings.IndexByte(cmdlineForbidden, c) >= 0:
			return fmt.Errorf("character %q at byte %d is boot menu syntax (none of %s is allowed)", c, i+1, cmdlineForbidden)
		case c == '"':
			quotes++
		}
	}
	if quotes%2 != 0 {
		return fmt.Errorf("unbalanced double quote")
	}
	return nil
}
