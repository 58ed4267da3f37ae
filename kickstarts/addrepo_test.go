package kickstarts

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestAddRepo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ks, repo, url, want string
	}{
		{"after the last repo line", "lang C\nrepo --name=a --baseurl=http://a/\nrepo --name=b --baseurl=http://b/\nkeyboard us\n", "x", "http://x/",
			"lang C\nrepo --name=a --baseurl=http://a/\nrepo --name=b --baseurl=http://b/\nrepo --name=x --baseurl=http://x/\nkeyboard us\n"},
		{"before the first section", "lang C\n\n%packages\n@core\n%end\n", "x", "http://x/",
			"lang C\n\nrepo --name=x --baseurl=http://x/\n\n%packages\n@core\n%end\n"},
		{"at the end", "lang C", "x", "http://x/", "lang C\nrepo --name=x --baseurl=http://x/\n"},
		{"idempotent per name", "repo --name=x --baseurl=http://old/\n", "x", "http://new/", "repo --name=x --baseurl=http://old/\n"},
		{"idempotent with a quoted name", "repo --name 'my repo' --baseurl=http://old/\n", "my repo", "http://new/", "repo --name 'my repo' --baseurl=http://old/\n"},
		{"quotes what needs it", "lang C\n", "my repo", "http://x/a b#c", "lang C\nrepo '--name=my repo' '--baseurl=http://x/a b#c'\n"},
		{"repo lines inside sections do not count", "lang C\n%post\nrepo --name=x\n%end\n", "x", "http://x/",
			"lang C\nrepo --name=x --baseurl=http://x/\n\n%post\nrepo --name=x\n%end\n"},
	}
	for _, tt := range tests {
		got := AddRepo(tt.ks, tt.repo, tt.url)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
		if again := AddRepo(got, tt.repo, tt.url); again != got {
			t.Errorf("%s: second AddRepo changed the text:\n%s", tt.name, again)
		}
	}
	// The result still flattens, with the repo in it.
	r, err := FlattenFS(context.Background(), fstest.MapFS{"a.ks": {Data: []byte(AddRepo("lang C\n%packages\n@core\n%end\n", "side", "http://h/repo"))}}, "a.ks", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("#version=F45\nlang C\nrepo --name=side --baseurl=http://h/repo\n\n%packages\n@core\n%end\n", body(r.Text)); diff != "" {
		t.Errorf("flattened (-want +got):\n%s", diff)
	}
}
