package kickstarts

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// FuzzFlatten flattens a three-file upload (main.ks may include inc.ks and
// sub/other.ks, which may include each other) and checks that nothing
// panics, that a success is really flat and that flattening the output
// again gives it back unchanged. The limits keep time and memory bounded
// whatever the input.
func FuzzFlatten(f *testing.F) {
	f.Add("%include inc.ks\nlang en_US.UTF-8\n", "keyboard us\n%packages\n@core\n-foo\n%end\n", "")
	f.Add("keyboard us\n%include sub/other.ks\nkeyboard --vckeymap=de\n", "", "timezone UTC --utc\n")
	f.Add("%post --nochroot\necho hi\n%include inc.ks\n%end\n", "# comment\necho included\n", "")
	f.Add("%packages --excludedocs\n@^env\n@g --optional\n-@g\n@g\n%end\n%packages --inst-langs=en\npkg\n-pkg\n%end\n", "", "")
	f.Add("%include inc.ks\n", "%include sub/other.ks\n", "%include ../inc.ks\n")
	f.Add("firewall --enabled --service=mdns\nfirewall --disabled --ssh\nreboot --eject\nhalt\nrootpw --plaintext 'a b#c'\n", "", "")
	f.Add("part / --size=1\npart /home --size=2\nrepo --name=x --baseurl=http://x/\nfoo bar\n%addon com_x\nk=v\n%end\n", "", "")
	f.Add("url --url=\"http://h/a b\"\nauthselect --enableldap # c\n%anaconda\npwpolicy root\n%end\n%end\n", "", "")
	f.Fuzz(func(t *testing.T, mainKS, inc, other string) {
		fsys := fstest.MapFS{
			"main.ks":      {Data: []byte(mainKS)},
			"inc.ks":       {Data: []byte(inc)},
			"sub/other.ks": {Data: []byte(other)},
		}
		// A hang is a failure too: the input is saved like a crasher.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				panic("FuzzFlatten: one input took more than 20 s")
			}
		}()
		ctx := context.Background()
		if _, err := ValidateFS(ctx, fsys, "main.ks", Options{}); err != nil && !strings.Contains(err.Error(), "limit") {
			t.Fatalf("ValidateFS: unexpected fatal error: %v", err)
		}
		r, err := FlattenFS(ctx, fsys, "main.ks", Options{})
		if err != nil {
			if !strings.Contains(err.Error(), "main.ks") && !strings.Contains(err.Error(), ".ks") {
				t.Fatalf("error names no file: %v", err)
			}
			return
		}
		for l := range strings.Lines(r.Text) {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "%include" {
				t.Fatalf("output still has %%include: %q", l)
			}
		}
		r2, err := FlattenFS(ctx, fstest.MapFS{"main.ks": {Data: []byte(r.Text)}}, "main.ks", Options{})
		if err != nil {
			t.Fatalf("output does not flatten again: %v\n%s", err, r.Text)
		}
		if r2.Text != r.Text {
			t.Fatalf("flattening the output changed it:\nfirst:\n%s\nsecond:\n%s", r.Text, r2.Text)
		}
	})
}
