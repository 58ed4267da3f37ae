package tasks

import (
	"fmt"
	"strings"
)

// Replace is one FROM TO pair of [ksiso] replace: every occurrence of From
// in the ISO's boot configurations becomes To (lorax's mkksiso -R FROM TO).
type Replace struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Field paths of mkksiso's options in [ksiso].
const (
	FieldRmArgs  = "ksiso.rm_args"
	FieldUpdates = "ksiso.updates"
	FieldAdd     = "ksiso.add"
	FieldVolID   = "ksiso.volid"
	FieldReplace = "ksiso.replace"
)

// ISO file names a request may not give to add= or updates=: they are the
// names ksiso itself puts at the ISO root (the kickstart and the side
// repository, see worker/builder).
var reservedISONames = []string{"ks.cfg", "fbs-side"}

// CheckVolID is the rule of [ksiso] volid, the new ISO volume ID: at most
// MaxVolID characters (ISO 9660's volume identifier field), letters,
// digits and "-_.+" alone. Those need no udev escaping in hd:LABEL= and no
// quoting in a GRUB or isolinux line, so the new label reads the same in
// every boot menu it is written into, and can add nothing to one.
func CheckVolID(v string) error {
	if v == "" {
		return fmt.Errorf("empty volume ID")
	}
	if len(v) > MaxVolID {
		return fmt.Errorf("%d characters: an ISO 9660 volume ID has at most %d", len(v), MaxVolID)
	}
	for i := 0; i < len(v); i++ {
		if !volIDChar(v[i]) {
			return fmt.Errorf("character %q at %d: a volume ID takes letters, digits, '-', '_', '.' and '+'", v[i], i+1)
		}
	}
	return nil
}

func volIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.+", c) >= 0
}

// CheckRmArgs is the rule of [ksiso] rm_args: names of kernel arguments
// separated by spaces, as mkksiso's --rm-args. A name is a kernel line
// word (CheckKernelCmdline) without '=' (mkksiso refuses values too: every
// instance of the name goes) or quotes.
func CheckRmArgs(v string) error {
	if err := CheckKernelCmdline(v); err != nil {
		return err
	}
	for _, w := range strings.Fields(v) {
		if strings.ContainsAny(w, `="`) {
			return fmt.Errorf("%q: list argument names only, without values or quotes (every instance of a name is removed)", w)
		}
	}
	return nil
}

// CheckISOName is the rule of an [ksiso] add or updates entry: the bare
// name of a file or directory in the worker's iso_dir, put at the ISO
// root under the same name. Letters, digits and "-_.+", not starting with
// '.' or '-', at most MaxFileName characters, and none of the names ksiso
// writes itself. A request never names a path.
func CheckISOName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case len(name) > MaxFileName:
		return fmt.Errorf("name of %d characters: at most %d", len(name), MaxFileName)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%q is a path: give the name of a file in the worker's iso_dir", name)
	case name[0] == '.' || name[0] == '-':
		return fmt.Errorf("%q starts with %q", name, name[0])
	}
	for i := 0; i < len(name); i++ {
		if !volIDChar(name[i]) {
			return fmt.Errorf("%q: character %q at %d (a name takes letters, digits, '-', '_', '.' and '+')", name, name[i], i+1)
		}
	}
	for _, r := range reservedISONames {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("%q is the name fbs gives its own file on the ISO", name)
		}
	}
	return nil
}

// CheckReplaceWord is the rule of each side of a [ksiso] replace pair. The
// text lands anywhere in a boot menu, kernel lines and menu titles
// included, so it is one word of a kernel command line (CheckKernelCmdline)
// without blanks or quotes: it can neither end a line nor a quoted title,
// so it cannot add a boot entry.
func CheckReplaceWord(w string) error {
	if w == "" {
		return fmt.Errorf("empty text")
	}
	if len(w) > MaxName {
		return fmt.Errorf("%s", tooLong(len(w), MaxName))
	}
	if err := CheckKernelCmdline(w); err != nil {
		return err
	}
	if strings.ContainsAny(w, "\" ") {
		return fmt.Errorf("%q: one word without blanks or double quotes", w)
	}
	return nil
}

// checkOptions checks mkksiso's options of k, adding one error per field.
func (k *KSISOSpec) checkOptions(add func(field, format string, args ...any)) {
	if k.RmArgs != "" {
		if err := CheckRmArgs(k.RmArgs); err != nil {
			add(FieldRmArgs, "kernel arguments to remove: %v", err)
		}
	}
	if k.VolID != "" {
		if err := CheckVolID(k.VolID); err != nil {
			add(FieldVolID, "%v", err)
		}
	}
	if k.Updates != "" {
		if err := CheckISOName(k.Updates); err != nil {
			add(FieldUpdates, "updates image: %v", err)
		}
	}
	seen := map[string]bool{strings.ToLower(k.Updates): k.Updates != ""}
	for _, a := range k.Add {
		if err := CheckISOName(a); err != nil {
			add(FieldAdd, "%v", err)
			break
		}
		if seen[strings.ToLower(a)] {
			add(FieldAdd, "%q is named twice (add and updates put files at the ISO root)", a)
			break
		}
		seen[strings.ToLower(a)] = true
	}
	for i, r := range k.Replace {
		if err := CheckReplaceWord(r.From); err != nil {
			add(FieldReplace, "pair %d, FROM: %v", i+1, err)
			break
		}
		if err := CheckReplaceWord(r.To); err != nil {
			add(FieldReplace, "pair %d, TO: %v", i+1, err)
			break
		}
	}
}

// CheckOptions is the rule of mkksiso's options in k ([ksiso] rm_args,
// updates, add, volid, replace) alone, without their limits: what a worker
// checks again before it writes any of them into an ISO.
func (k *KSISOSpec) CheckOptions() error {
	var errs Errors
	k.checkOptions(func(field, format string, args ...any) { errs = append(errs, Invalid(field, format, args...)) })
	return errs.Err()
}
