package webapp

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/fedora-fbs/fbs/tasks"
)

// referenceRows is the dashboard's row markup as html/template wrote it
// before dashRows (with artifacts staged where a browser cannot follow a
// link shown by name, their URL as a title): the reference dashRows must
// match, values escaped the same way.
const referenceRows = `{{range .Builds}}<tr data-id="{{.ID}}"{{if not (final .State)}} data-live{{end}}>
<td><a href="/builds/{{.ID}}">{{.ID}}</a></td>
<td class="state state-{{.State}}">{{.State}}</td><td class="stage">{{.Stage}}</td><td>{{duration .}}</td>
<td>{{.Spec.Type}}</td><td>{{.Spec.Arch}}</td><td>{{.Spec.Release}}</td>{{if $.Admin}}<td>{{.Owner}}</td>{{end}}<td>{{when .Created}}</td>
<td>{{range .Artifacts}}{{if linkable .URL}}<a href="{{.URL}}">{{.Name}}</a>{{else if .URL}}<span title="{{.URL}}">{{.Name}}</span>{{else}}{{.Name}}{{end}} {{end}}</td>
<td>{{if not (final .State)}}<form method="post" action="/builds/{{.ID}}/cancel"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">Cancel</button></form>{{end}}
<form method="post" action="/builds/{{.ID}}/resubmit"><input type="hidden" name="csrf" value="{{$.CSRF}}"><button type="submit">Resubmit</button></form></td>
</tr>
{{end}}`

// renderBoth renders bs with dashRows and with the reference template,
// each parsed as the rows of a table and rendered back, so the two compare
// as the documents a browser would build.
func renderBoth(t testing.TB, bs []*tasks.Build, admin bool, csrf string, now time.Time) (got, want string) {
	t.Helper()
	ref := template.Must(template.New("rows").Funcs(template.FuncMap{
		"duration": func(b *tasks.Build) string { return humanDuration(b.Duration(now)) },
		"when":     when,
		"final":    func(s tasks.State) bool { return s.Final() },
		"linkable": func(u string) bool { return u != "" && safeHref(u) != refusedURL },
	}).Parse(referenceRows))
	var sb strings.Builder
	if err := ref.Execute(&sb, map[string]any{"Builds": bs, "Admin": admin, "CSRF": csrf}); err != nil {
		t.Fatal(err)
	}
	rows := make([]tasks.Summary, len(bs))
	for i, b := range bs {
		rows[i] = b.Summary()
	}
	return domOf(t, string(dashRows(rows, admin, csrf, now))), domOf(t, sb.String())
}

// domOf parses rows in a tbody and renders the tree back.
func domOf(t testing.TB, rows string) string {
	t.Helper()
	ctx := &html.Node{Type: html.ElementNode, Data: "tbody", DataAtom: atom.Tbody}
	nodes, err := html.ParseFragment(strings.NewReader(rows), ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, n := range nodes {
		if err := html.Render(&sb, n); err != nil {
			t.Fatal(err)
		}
	}
	return sb.String()
}

// elements counts the elements named tag in rendered rows.
func elements(t testing.TB, rows, tag string) int {
	t.Helper()
	ctx := &html.Node{Type: html.ElementNode, Data: "tbody", DataAtom: atom.Tbody}
	nodes, err := html.ParseFragment(strings.NewReader(rows), ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(*html.Node)
	walk = func(x *html.Node) {
		if x.Type == html.ElementNode && x.Data == tag {
			n++
		}
		for c := x.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, x := range nodes {
		walk(x)
	}
	return n
}

func TestDashRowsMatchTemplate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	created := now.Add(-time.Hour)
	build := func(state tasks.State, mod func(*tasks.Build)) *tasks.Build {
		b := &tasks.Build{ID: "01JTESTBUILD0000000000000A", Owner: "alice", State: state, Created: created,
			Spec: tasks.Spec{Type: tasks.TypeKSISO, Arch: "x86_64", Release: "41"}}
		if mod != nil {
			mod(b)
		}
		return b
	}
	tests := []struct {
		name  string
		bs    []*tasks.Build
		admin bool
		csrf  string
		// links are the hrefs of the artifact links, in order.
		links []string
	}{
		{"none", nil, true, "tok", nil},
		{"succeeded with artifacts", []*tasks.Build{build(tasks.StateSucceeded, func(b *tasks.Build) {
			b.Started, b.Finished = created.Add(time.Second), created.Add(90*time.Second)
			b.Artifacts = []tasks.Artifact{{Name: "boot.iso", URL: "https://dl.example.org/b/boot.iso"}, {Name: "CHECKSUM"}}
		})}, false, "tok", []string{"https://dl.example.org/b/boot.iso"}},
		{"running: live, with cancel", []*tasks.Build{build(tasks.StateRunning, func(b *tasks.Build) {
			b.Stage, b.Started = tasks.Stage("build"), now.Add(-1234*time.Millisecond)
		})}, true, "tok", nil},
		{"queued, admin sees the owner", []*tasks.Build{build(tasks.StateQueued, nil), build(tasks.StateFailed, nil)}, true, "a+b/c=", nil},
		{"hostile values", []*tasks.Build{build(tasks.StateQueued, func(b *tasks.Build) {
			b.ID = `"><script>alert(1)</script>`
			b.Owner = "<script>alert('owner')</script>"
			b.Stage = tasks.Stage(`"stage'&amp;`)
			b.State = tasks.State(`x" onmouseover="alert(1)`)
			b.Spec.Release = "</td></tr></tbody><img src=x onerror=alert(1)>"
			b.Spec.Arch = "x86_64\x00é\ufdd0+"
			b.Artifacts = []tasks.Artifact{
				{Name: `"><img src=x onerror=alert(1)>`, URL: "javascript:alert(1)"},
				{Name: "a", URL: " JaVaScRiPt:alert(1)"},
				{Name: "b", URL: "data:text/html,<script>alert(1)</script>"},
				{Name: "c", URL: "file:///srv/out/boot.iso"},
				{Name: "d", URL: `https://h.example/a b?c=1&d="e"<f>é%41%zz'()`},
				{Name: "e", URL: "/relative/path#frag"},
				{Name: "f", URL: "mailto:someone@example.org"},
			}
		})}, true, `"><script>x</script>`, []string{
			"https://h.example/a%20b?c=1&d=%22e%22%3cf%3e%c3%a9%41%25zz%27%28%29", "/relative/path#frag", "mailto:someone@example.org"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := renderBoth(t, tc.bs, tc.admin, tc.csrf, now)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("dashRows differs from html/template (-want +got):\n%s", diff)
			}
			rows := make([]tasks.Summary, len(tc.bs))
			for i, b := range tc.bs {
				rows[i] = b.Summary()
			}
			out := string(dashRows(rows, tc.admin, tc.csrf, now))
			if n := elements(t, out, "tr"); n != len(tc.bs) {
				t.Errorf("%d rows for %d builds", n, len(tc.bs))
			}
			for _, tag := range []string{"script", "img"} {
				if n := elements(t, out, tag); n != 0 {
					t.Errorf("a value became %d <%s> elements:\n%s", n, tag, out)
				}
			}
			var links []string
			for _, a := range rows {
				for _, art := range a.Artifacts {
					if href := safeHref(art.URL); art.URL != "" && href != refusedURL {
						links = append(links, href)
					} else if art.URL != "" && !strings.Contains(out, `title="`+template.HTMLEscapeString(art.URL)+`"`) {
						t.Errorf("artifact %q at %q: neither a link nor its URL shown", art.Name, art.URL)
					}
				}
			}
			if diff := cmp.Diff(tc.links, links); diff != "" {
				t.Errorf("artifact links (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDashRows checks dashRows against html/template on arbitrary values.
func FuzzDashRows(f *testing.F) {
	f.Add("alice", "running", "build", "boot.iso", "https://h/x?a=1&b=2", "tok")
	f.Add("<b>", `"'`, "&amp;", `"><img src=x>`, "javascript:alert(1)", `"`)
	f.Add("a\x00b", "succeeded", "\xff\xfe", "é", "/p/%41%4", "+")
	f.Fuzz(func(t *testing.T, owner, state, stage, name, url, csrf string) {
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		b := &tasks.Build{ID: "01JTESTBUILD0000000000000A", Owner: owner, State: tasks.State(state), Stage: tasks.Stage(stage),
			Created: now.Add(-time.Hour), Started: now.Add(-time.Minute), Spec: tasks.Spec{Type: tasks.TypeLive, Arch: "aarch64", Release: owner},
			Artifacts: []tasks.Artifact{{Name: name, URL: url}, {Name: name}}}
		got, want := renderBoth(t, []*tasks.Build{b}, true, csrf, now)
		if got != want {
			t.Errorf("dashRows differs from html/template:\n got %s\nwant %s", got, want)
		}
	})
}
