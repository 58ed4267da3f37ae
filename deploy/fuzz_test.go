package deploy

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// fuzzSecret is what every local file holds in FuzzParse.
const fuzzSecret = "fuzz-secret-content"

// FuzzParse feeds deploy files of both forms to the parser: it must not
// panic, every problem must name the file, and what loads must render
// without showing a secret outside its own file.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("example.conf"); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile(originalDeployConf); err == nil {
		f.Add(b)
	}
	f.Add([]byte(okHosts + "[conf]\nsmtp.password_file = x\nsmtp.username = u\n"))
	f.Add([]byte("[master]\nhost = root@198.18.0.1\n[workers-42]\nx86_64 = a@198.18.0.2;198.18.0.3\n[SMTP]\npassword = 'p'\n"))
	read := func(string) ([]byte, error) { return []byte(fuzzSecret + "\n"), nil }
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parse("deploy.conf", data, read)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			for _, e := range errs {
				if e.File != "deploy.conf" {
					t.Fatalf("error without the file: %v", e)
				}
			}
			if strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("error shows a secret: %v", err)
			}
			return
		}
		for _, w := range file.Warnings {
			if strings.Contains(w.String(), fuzzSecret) {
				t.Fatalf("warning shows a secret: %v", w)
			}
		}
		for _, h := range file.Hosts {
			files, err := file.Render(h)
			if err != nil {
				t.Fatalf("Render(%s) of a loaded file: %v", h.Name, err)
			}
			for _, rf := range files {
				if !rf.Secret && bytes.Contains(rf.Content, []byte(fuzzSecret)) {
					t.Fatalf("%s shows a secret:\n%s", rf.Path, rf.Content)
				}
			}
		}
	})
}
