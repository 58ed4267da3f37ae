package kickstarts

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// flat flattens main.ks among files and returns the text without the two
// header lines.
func flat(t *testing.T, files map[string]string, opts Options) (string, []Warning, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	r, err := FlattenFS(context.Background(), fsys, "main.ks", opts)
	if err != nil {
		return "", nil, err
	}
	lines := strings.SplitN(r.Text, "\n", 3)
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "# Flattened by fbs from main.ks") || !strings.HasPrefix(lines[1], "#version=") {
		t.Fatalf("bad header in:\n%s", r.Text)
	}
	return lines[2], r.Warnings, nil
}

func TestFlattenMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{{
		name:  "later single-instance line wins option by option",
		files: map[string]string{"main.ks": "services --enabled=a\nservices --disabled=b\n"},
		want:  "services --disabled=b --enabled=a\n",
	}, {
		name:  "flags with real defaults are reset",
		files: map[string]string{"main.ks": "firewall --enabled --service=mdns --use-system-defaults\nfirewall --disabled\nxconfig --startxonboot --defaultdesktop=KDE\nxconfig\n"},
		want:  "firewall --disable --service=mdns\nxconfig --defaultdesktop=KDE\n",
	}, {
		name:  "extend and append options accumulate within a line, not across",
		files: map[string]string{"main.ks": "firewall --service=a,b --ssh\nfirewall --service=c\n"},
		want:  "firewall --service=c\n",
	}, {
		name:  "aliases share a slot and the last name counts",
		files: map[string]string{"main.ks": "text --non-interactive\nreboot --eject\ngraphical\nshutdown\n"},
		want:  "graphical\nshutdown\n",
	}, {
		name:  "legacy keyboard layout is kept beside new options",
		files: map[string]string{"main.ks": "keyboard us\nkeyboard --vckeymap=de\n"},
		want:  "keyboard --vckeymap=de us\n",
	}, {
		name:  "positional values and quoting survive",
		files: map[string]string{"main.ks": "rootpw --plaintext 'a b#c'\nrootpw --lock\nlang en_US.UTF-8 --addsupport=de_DE\n"},
		want:  "rootpw --lock 'a b#c'\nlang --addsupport=de_DE en_US.UTF-8\n",
	}, {
		name:  "multi-use commands accumulate in order, verbatim",
		files: map[string]string{"main.ks": "part / --size=1  # root\n%include inc.ks\npart /home --size=2\n", "inc.ks": "repo --name=a --baseurl=http://a/\nuser --name=u\nrepo --name=a --baseurl=http://a/\n"},
		want:  "part / --size=1  # root\nrepo --name=a --baseurl=http://a/\nuser --name=u\nrepo --name=a --baseurl=http://a/\npart /home --size=2\n",
	}, {
		name:  "option abbreviations resolve as argparse does",
		files: map[string]string{"main.ks": "xconfig --startx\n"},
		want:  "xconfig --startxonboot\n",
	}, {
		name:  "raw commands keep their text, last wins",
		files: map[string]string{"main.ks": "authselect select sssd\nauthselect select minimal with-faillock\n"},
		want:  "authselect select minimal with-faillock\n",
	}, {
		name:  "a file included twice is read twice",
		files: map[string]string{"main.ks": "%include inc.ks\n%include inc.ks\n", "inc.ks": "network --device=eth0\n"},
		want:  "network --device=eth0\nnetwork --device=eth0\n",
	}, {
		name:  "quoted include with trailing comment, relative to the including file",
		files: map[string]string{"main.ks": "%include \"sub/a b.ks\" # the base\n", "sub/a b.ks": "%include c.ks\n", "sub/c.ks": "zerombr\n"},
		want:  "zerombr\n",
	}, {
		name:  "packages merge line by line",
		files: map[string]string{"main.ks": "%packages\nvim\n-emacs\n@g1 --optional\n@^env1\n%end\n%include inc.ks\n", "inc.ks": "%packages\n-vim\nemacs\n@g1\n@g2 --nodefaults\n-@g2\n@^env2\n-@^env1\n%end\n"},
		want:  "\n%packages\n-@g2\n-@^env1\n@^env2\n@g1 --optional\nemacs\n-vim\n%end\n",
	}, {
		name:  "excluded then selected group reads back the same",
		files: map[string]string{"main.ks": "%packages\n@g\n-@g\n@g\n%end\n"},
		want:  "\n%packages\n-@g\n@g\n%end\n",
	}, {
		name:  "packages header options as pykickstart merges them",
		files: map[string]string{"main.ks": "%packages --excludedocs --default --inst-langs=en --timeout=5\na\n%end\n%packages --nocore --retries=2\nb # comment\n\n# c\n%end\n"},
		want:  "\n%packages --default --nocore --retries=2 --inst-langs=en\na\nb\n%end\n",
	}, {
		name: "scripts keep order, options and bodies; addon and anaconda pass through",
		files: map[string]string{"main.ks": "%pre --log=/tmp/pre.log\necho \"pre\" \\\n  # kept\n%end\n%post --nochroot --interpreter=/usr/bin/python3\nprint('a')\n%include body.ks\n%end\n%addon com_redhat_kdump --enable\n\n%end\n%onerror\n%end\n%anaconda\npwpolicy root --minlen=6\n%end\n%traceback --erroronfail\ncat /tmp/x\n%end\n",
			"body.ks": "# dropped: leading comment of a file included inside a section\nprint('b')\n# kept\n"},
		want: "\n%pre --log=/tmp/pre.log\necho \"pre\" \\\n  # kept\n%end\n\n%post --nochroot --interpreter=/usr/bin/python3\nprint('a')\nprint('b')\n# kept\n%end\n\n%addon com_redhat_kdump --enable\n\n%end\n\n%anaconda\npwpolicy root --minlen=6\n%end\n\n%traceback --erroronfail\ncat /tmp/x\n%end\n",
	}, {
		name:  "certificates pass through intact",
		files: map[string]string{"main.ks": "%certificate --filename=rh.pem --dir=/etc/pki\n-----BEGIN CERTIFICATE-----\n\nMIIB\n-----END CERTIFICATE-----\n%end\n"},
		want:  "\n%certificate --filename=rh.pem --dir=/etc/pki\n-----BEGIN CERTIFICATE-----\n\nMIIB\n-----END CERTIFICATE-----\n%end\n",
	}, {
		name:  "unknown commands are kept verbatim",
		files: map[string]string{"main.ks": "frobnicate --hard  'x'\n"},
		want:  "frobnicate --hard  'x'\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := flat(t, tt.files, Options{})
			if err != nil {
				t.Fatalf("FlattenFS: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("flattened (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFlattenWarnings(t *testing.T) {
	t.Parallel()
	_, warnings, err := flat(t, map[string]string{"main.ks": "lang C\n%include inc.ks\n", "inc.ks": "\nfrobnicate\ntimezone UTC --ntpservers=a\n%ksappend x\n"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Warning{
		{File: "inc.ks", Line: 2, Message: "unknown command frobnicate kept as it is"},
		{File: "inc.ks", Line: 3, Message: "timezone: option --ntpservers is deprecated and has no effect"},
		{File: "inc.ks", Line: 4, Message: "%ksappend is not supported by ksflatten and is ignored"},
	}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestFlattenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  string
		is    error
	}{
		{"include cycle shows the chain", map[string]string{"main.ks": "lang C\n%include a.ks\n", "a.ks": "\n%include sub/b.ks\n", "sub/b.ks": "%include ../a.ks\n"},
			"sub/b.ks:1: include cycle: main.ks:2 -> a.ks:2 -> sub/b.ks:1 -> a.ks", nil},
		{"missing include names the including file and line", map[string]string{"main.ks": "lang C\n%include inc.ks\n", "inc.ks": "\n\n%include nowhere.ks\n"},
			"inc.ks:3: include nowhere.ks: not found", ErrNotFound},
		{"backslash continuation", map[string]string{"main.ks": "part / \\\n  --size=1\n"}, "main.ks:1: line ends in a backslash", nil},
		{"unclosed quote", map[string]string{"main.ks": "\nurl --url='http://x\n"}, "main.ks:2: no closing quotation", nil},
		{"unknown section", map[string]string{"main.ks": "%frob\n%end\n"}, "main.ks:1: unknown section %frob", nil},
		{"end without section", map[string]string{"main.ks": "lang C\n%end\n"}, "main.ks:2: %end without a section", nil},
		{"section not closed", map[string]string{"main.ks": "%post\necho\n"}, "main.ks:1: section %post is not closed with %end", nil},
		{"section not closed before another", map[string]string{"main.ks": "%post\necho\n%packages\n%end\n"}, "main.ks:1: section %post is not closed with %end before %packages at main.ks:3", nil},
		{"section opened in an include and left open", map[string]string{"main.ks": "%include head.ks\necho two\n%end\n", "head.ks": "\n%post\necho one\n"},
			"head.ks:2: section %post is not closed with %end in the file that opened it", nil},
		{"section closed in an include", map[string]string{"main.ks": "lang C\n%post\necho one\n%include tail.ks\nkeyboard us\n%end\n", "tail.ks": "echo two\n%end\n"},
			"tail.ks:2: %end closes section %post opened in main.ks:2: a section must end in the file that opened it", nil},
		{"conflicting commands", map[string]string{"main.ks": "lang C\npart / --size=1\n%include inc.ks\n", "inc.ks": "autopart\n"},
			"inc.ks:1: autopart cannot be used with partition (part at main.ks:2)", nil},
		{"removed command", map[string]string{"main.ks": "auth --useshadow\n"}, "main.ks:1: auth has been removed.", nil},
		{"unknown option", map[string]string{"main.ks": "selinux --frob\n"}, "main.ks:1: selinux: unknown option --frob", nil},
		{"missing value", map[string]string{"main.ks": "bootloader --timeout\n"}, "main.ks:1: bootloader: option --timeout expects a value", nil},
		{"bad int", map[string]string{"main.ks": "bootloader --timeout=soon\n"}, `main.ks:1: bootloader: option --timeout: invalid integer "soon"`, nil},
		{"bad choice", map[string]string{"main.ks": "bootloader --location=moon\n"}, `main.ks:1: bootloader: option --location: invalid choice "moon"`, nil},
		{"required option", map[string]string{"main.ks": "nfs --dir=/x\n"}, "main.ks:1: nfs: option --server is required", nil},
		{"flag with a value", map[string]string{"main.ks": "zerombr --yes\n"}, "main.ks:1: zerombr: unknown option --yes", nil},
		{"bad package header option", map[string]string{"main.ks": "%packages --nobase\n%end\n"}, "main.ks:1: %packages: unknown option --nobase", nil},
		{"include without a name", map[string]string{"main.ks": "%include\n"}, "main.ks:1: %include needs a file name", nil},
		{"absolute include", map[string]string{"main.ks": "%include /etc/passwd\n"}, "main.ks:1: include /etc/passwd: absolute paths are not allowed here", ErrRefused},
		{"dot-dot include", map[string]string{"main.ks": "%include ../../etc/passwd\n"}, "main.ks:1: include ../../etc/passwd: leaves the kickstart's directory tree", ErrRefused},
		{"URL include in an upload", map[string]string{"main.ks": "%include http://169.254.169.254/latest\n"}, "main.ks:1: include http://169.254.169.254/latest: URL includes are not allowed here", ErrRefused},
		{"group with both options", map[string]string{"main.ks": "%packages\n@g --optional --nodefaults\n%end\n"}, "main.ks:2: %packages: group @g --optional --nodefaults: --nodefaults and --optional cannot be used together", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := flat(t, tt.files, Options{})
			if err == nil {
				t.Fatalf("FlattenFS succeeded, want error %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File == "" || pe.Line == 0 {
				t.Errorf("error %#v is not a *ParseError with file and line", err)
			}
		})
	}
}

func TestFlattenLimits(t *testing.T) {
	t.Parallel()
	deep := map[string]string{"main.ks": "%include 1.ks\n"}
	for i := 1; i < 40; i++ {
		deep[itoa(i)+".ks"] = "%include " + itoa(i+1) + ".ks\n"
	}
	deep["40.ks"] = "lang C\n"
	wide := map[string]string{"main.ks": strings.Repeat("%include a.ks\n", 40), "a.ks": strings.Repeat("%include b.ks\n", 40), "b.ks": "lang C\n"}
	long := map[string]string{"main.ks": "lang " + strings.Repeat("x", maxLineLength+1) + "\n"}
	many := map[string]string{"main.ks": strings.Repeat("%include a.ks\n", 30), "a.ks": strings.Repeat("#\n", 10000)}
	big := map[string]string{"main.ks": strings.Repeat("%include a.ks\n", 10), "a.ks": strings.Repeat("# "+strings.Repeat("x", 1000)+"\n", 1000)}
	for name, files := range map[string]map[string]string{"deep": deep, "wide": wide, "long line": long, "many lines": many, "large": big} {
		_, _, err := flat(t, files, Options{})
		if !errors.Is(err, ErrLimit) {
			t.Errorf("%s: error = %v, want ErrLimit", name, err)
		}
	}
}

func TestFlattenProblemCap(t *testing.T) {
	t.Parallel()
	_, warnings, err := flat(t, map[string]string{"main.ks": strings.Repeat("frob\n", 1500)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != maxProblems+1 || warnings[maxProblems].Message != "500 more problems not shown" {
		t.Errorf("%d warnings, last %+v", len(warnings), warnings[len(warnings)-1])
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestFlattenVersion(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"main.ks": {Data: []byte("vnc --password=x\n")}}
	if _, err := FlattenFS(context.Background(), fsys, "main.ks", Options{Version: "F42"}); err != nil {
		t.Errorf("vnc under F42: %v", err)
	}
	_, err := FlattenFS(context.Background(), fsys, "main.ks", Options{Version: "F45"})
	if err == nil || !strings.Contains(err.Error(), "vnc has been removed") {
		t.Errorf("vnc under F45: error = %v, want removed", err)
	}
	for _, v := range []string{"f42", "42", "Fedora 42", "fedora42"} {
		if _, err := FlattenFS(context.Background(), fsys, "main.ks", Options{Version: v}); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
	if diff := cmp.Diff([]string{"F40", "F41", "F42", "F43", "F44", "F45"}, SupportedVersions()); diff != "" {
		t.Errorf("SupportedVersions (-want +got):\n%s", diff)
	}
	if _, err := FlattenFS(context.Background(), fsys, "main.ks", Options{Version: "F12"}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("F12: error = %v, want not supported", err)
	}
}
