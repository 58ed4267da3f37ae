package kickstarts_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fedora-fbs/fbs/kickstarts"
)

// TestRedact checks that the value of every secret option is hidden in
// each form a kickstart may write it, and nothing else changes.
func TestRedact(t *testing.T) {
	t.Parallel()
	const m = kickstarts.Mask
	for _, tc := range []struct{ name, in, want string }{
		{"rootpw plaintext", "rootpw --plaintext s3cretroot", "rootpw --plaintext " + m},
		{"rootpw iscrypted", "rootpw --iscrypted $6$salt$hash", "rootpw --iscrypted " + m},
		{"rootpw quoted", `rootpw "two words"`, "rootpw " + m},
		{"rootpw single quoted", `rootpw --plaintext 'it''s'`, "rootpw --plaintext " + m},
		{"rootpw lock only", "rootpw --lock", "rootpw --lock"},
		{"user password equals", "user --name=alice --password=userpass --iscrypted", "user --name=alice --password=" + m + " --iscrypted"},
		{"user password space", "user --name alice --password userpass --plaintext", "user --name alice --password " + m + " --plaintext"},
		{"user password abbreviated", "user --name=alice --passw=userpass", "user --name=alice --passw=" + m},
		{"user password quoted", `user --name=alice --password="pa ss"`, "user --name=alice --password=" + m},
		{"bootloader password", "bootloader --location=mbr --password=grubpass", "bootloader --location=mbr --password=" + m},
		{"bootloader iscrypted", "bootloader --iscrypted --password grub.pbkdf2.sha512.10000.ABC", "bootloader --iscrypted --password " + m},
		{"sshpw", "sshpw --username=root --plaintext sshsecret", "sshpw --username=root --plaintext " + m},
		{"sshpw iscrypted", "sshpw --username=root --iscrypted $6$x$y", "sshpw --username=root --iscrypted " + m},
		{"part passphrase", "part / --fstype=ext4 --encrypted --passphrase=luks-pass", "part / --fstype=ext4 --encrypted --passphrase=" + m},
		{"autopart passphrase space", "autopart --encrypted --passphrase luks-pass", "autopart --encrypted --passphrase " + m},
		{"logvol passphrase", "logvol / --vgname=vg --name=root --encrypted --passphrase='a b'", "logvol / --vgname=vg --name=root --encrypted --passphrase=" + m},
		{"raid passphrase", "raid / --level=1 --device=md0 --encrypted --passphrase=raidpw raid.01 raid.02", "raid / --level=1 --device=md0 --encrypted --passphrase=" + m + " raid.01 raid.02"},
		{"backuppassphrase is a flag", "part / --encrypted --backuppassphrase", "part / --encrypted --backuppassphrase"},
		{"unknown command", "mycmd --password=x", "mycmd --password=" + m},
		{"unbalanced quote", `rootpw "secret`, "rootpw " + m},
		{"no secret", "lang en_US.UTF-8\nkeyboard us", "lang en_US.UTF-8\nkeyboard us"},
		{"comment", "# rootpw commented", "# rootpw commented"},
		{"post script untouched", "%post\necho rootpw x\n%end\nrootpw y", "%post\necho rootpw x\n%end\nrootpw " + m},
		{"packages untouched", "%packages\n-password-tool\n%end", "%packages\n-password-tool\n%end"},
		{"line endings kept", "rootpw a\n\nlang C\n", "rootpw " + m + "\n\nlang C\n"},
		{"carriage return ends a line", "lang C\rrootpw hidden\r\nlang C", "lang C\rrootpw " + m + "\r\nlang C"},
	} {
		if diff := cmp.Diff(tc.want, kickstarts.Redact(tc.in).Text); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestRedactLine checks that tool output quoting a kickstart loses its
// secrets too.
func TestRedactLine(t *testing.T) {
	t.Parallel()
	r := kickstarts.Redact("rootpw --plaintext s3cretroot\nuser --name=a --password=x\npart / --passphrase 'luks pass'\n")
	for in, want := range map[string]string{
		"anaconda: rootpw --plaintext s3cretroot": "anaconda: rootpw --plaintext " + kickstarts.Mask,
		"unlocking with luks pass now":            "unlocking with " + kickstarts.Mask + " now",
		"short secrets stay: x marks the spot":    "short secrets stay: x marks the spot",
		"nothing secret here":                     "nothing secret here",
	} {
		if got := r.Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("rootpw --plaintext abc\nuser --password=\"x y\"\n%post\nx\n%end\n")
	f.Add("sshpw --username=root 'a")
	f.Fuzz(func(t *testing.T, text string) {
		r := kickstarts.Redact(text)
		if got, want := strings.Count(r.Text, "\n"), strings.Count(text, "\n"); got < want {
			t.Fatalf("%d lines became %d", want, got)
		}
		_ = r.Line(text)
	})
}
