package webapp_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/webapp"
	"github.com/fedora-fbs/fbs/webapp/apiclient"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// TestAPIClient drives the API with its Go client, as `fbs submit
// --server` does.
func TestAPIClient(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t) })
	ctx := context.Background()
	tok := f.token(t, auth.User{Name: "alice", CanSubmit: true})
	ac, err := apiclient.New(f.ts.URL+"/", tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A payload prepared locally (flattened kickstart named by a URL).
	p := &tasks.Payload{Spec: f.ksisoSpec("https://example.org/ks/my-spin.ks"), Kickstart: readKS(t, "fedora-repo-rawhide.ks"),
		KickstartName: "https://example.org/ks/my-spin.ks"}
	res, err := ac.Submit(ctx, apiclient.FromPayload(p))
	if err != nil {
		t.Fatal(err)
	}
	if res.Build.KickstartName != "my-spin.ks" || res.Build.Owner != "alice" || p.Spec.KSISO.Config != "https://example.org/ks/my-spin.ks" {
		t.Errorf("submitted %+v (payload spec changed: %v)", res.Build, p.Spec.KSISO.Config)
	}
	ini := []byte("[DEFAULT]\ntype=ksiso\narch=x86_64\nrelease=41\nstaging=" + f.staging + "\n[ksiso]\niso=boot.iso\nconfig=fedora-repo.ks\n")
	res2, err := ac.SubmitINI(ctx, "dir/spec.conf", ini, map[string][]byte{
		"fedora-repo.ks": []byte(readKS(t, "fedora-repo.ks")), "fedora-repo-rawhide.ks": []byte(readKS(t, "fedora-repo-rawhide.ks"))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ac.List(ctx, url.Values{"limit": {"1"}})
	if err != nil || len(l.Builds) != 1 || l.Builds[0].ID != res2.Build.ID || l.Next == "" {
		t.Fatalf("list: %+v %v", l, err)
	}
	if b, err := ac.Cancel(ctx, res.Build.ID); err != nil || b.State != tasks.StateCancelled {
		t.Errorf("cancel: %+v %v", b, err)
	}
	var ae *apiclient.Error
	if _, err := ac.Cancel(ctx, res.Build.ID); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != webapp.CodeFinished {
		t.Errorf("second cancel: %v", err)
	}
	if r, err := ac.Resubmit(ctx, res.Build.ID); err != nil || r.Build.State != tasks.StateQueued {
		t.Errorf("resubmit: %+v %v", r, err)
	}
	bad, _ := apiclient.New(f.ts.URL, "fbs_wrong", nil)
	if _, err := bad.List(ctx, nil); !errors.As(err, &ae) || ae.Status != 401 || ae.Code != webapp.CodeBadToken {
		t.Errorf("bad token: %v", err)
	}
	if _, err := apiclient.New("ftp://x", "", nil); err == nil {
		t.Error("ftp server URL accepted")
	}
}

// TestAPIClientGroup submits a spec naming two arches with the Go client,
// as `fbs submit --server` does, then reads and cancels the group.
func TestAPIClientGroup(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *webapp.Config) { c.OIDC = testOIDC(t); c.Arches = []string{"x86_64", "aarch64"} })
	ctx := context.Background()
	ac, err := apiclient.New(f.ts.URL, f.token(t, auth.User{Name: "alice", CanSubmit: true}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ini := []byte("[DEFAULT]\ntype=ksiso\narch=aarch64,x86_64\nrelease=41\nstaging=" + f.staging + "\n[ksiso]\niso=boot.iso\nconfig=k.ks\n")
	res, err := ac.SubmitINI(ctx, "spec.conf", ini, map[string][]byte{"k.ks": []byte("text\n")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Group == nil || len(res.Group.Builds) != 2 || res.Group.Builds[0].Spec.Arch != "aarch64" || res.Group.Builds[1].Spec.Arch != "x86_64" {
		t.Fatalf("INI group answer %+v", res)
	}
	g, err := ac.Group(ctx, res.Group.ID)
	if err != nil || g.State != tasks.StateQueued || len(g.Builds) != 2 {
		t.Fatalf("Group = %+v, %v", g, err)
	}
	if g, err = ac.CancelGroup(ctx, g.ID); err != nil || g.State != tasks.StateCancelled {
		t.Fatalf("CancelGroup = %+v, %v", g, err)
	}
	var ae *apiclient.Error
	if _, err := ac.CancelGroup(ctx, g.ID); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != webapp.CodeFinished {
		t.Errorf("second cancel: %v", err)
	}
	// An arch named twice is one invalid field, the INI key named.
	bad := []byte("[DEFAULT]\ntype=ksiso\narch=x86_64,x86_64\nrelease=41\nstaging=" + f.staging + "\n[ksiso]\niso=boot.iso\nconfig=k.ks\n")
	if _, err := ac.SubmitINI(ctx, "spec.conf", bad, map[string][]byte{"k.ks": []byte("text\n")}); !errors.As(err, &ae) || ae.Status != 422 || ae.Field != "[DEFAULT] arch" {
		t.Errorf("arch twice: %v (field %q)", err, ae.Field)
	}
}
