package kickstarts

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSourceURLs(t *testing.T) {
	t.Parallel()
	ks := `lang C
url --url=http://a.example/os --proxy http://proxy.example:3128
repo --name=x --baseurl="file:///etc" # comment --mirrorlist=http://no
repo --name y --mirrorlist http://m.example/list --metalink=http://ml.example/
%post
repo --baseurl=http://in-a-script/
%end
liveimg --url=ftp://10.0.0.1/img
ostreesetup --osname=f --url=http://127.0.0.1:8000/repo --ref=x
network --bootproto=dhcp
`
	want := []SourceURL{
		{2, "url", "--url", "http://a.example/os"},
		{2, "url", "--proxy", "http://proxy.example:3128"},
		{3, "repo", "--baseurl", "file:///etc"},
		{4, "repo", "--mirrorlist", "http://m.example/list"},
		{4, "repo", "--metalink", "http://ml.example/"},
		{8, "liveimg", "--url", "ftp://10.0.0.1/img"},
		{9, "ostreesetup", "--url", "http://127.0.0.1:8000/repo"},
	}
	if diff := cmp.Diff(want, SourceURLs(ks)); diff != "" {
		t.Errorf("SourceURLs (-want +got):\n%s", diff)
	}
}

func FuzzSourceURLs(f *testing.F) {
	f.Add("repo --name=x --baseurl=http://a/\nurl --url 'http://b/'\n%post\n%end\n")
	f.Fuzz(func(t *testing.T, ks string) {
		for _, u := range SourceURLs(ks) {
			if u.Line < 1 || u.Command == "" || u.Option == "" {
				t.Fatalf("bad SourceURL %+v", u)
			}
		}
	})
}
