package tasks

import "fmt"

// fedoraDL and fedoraMetalink are where Fedora publishes its trees and its
// mirror lists. They appear only as text a user may edit (the build form's
// repositories); nothing in fbs connects to them by itself.
const (
	fedoraDL       = "https://dl.fedoraproject.org/pub"
	fedoraMetalink = "https://mirrors.fedoraproject.org/metalink"
)

// StandardRepos returns Fedora's standard repositories of release on arch,
// as [boot] repositories: the release itself (named after it, "41"), its
// updates ("41-updates") and updates-testing ("41-updates-testing"), each
// with its base URL and its metalink, as the original service's form
// offered them. Rawhide has only itself. The [boot] updates and
// updates-testing switches choose which of the last two lorax uses.
func StandardRepos(release, arch string) []Repo {
	tree := fedoraDL + "/fedora/linux"
	switch arch {
	case "x86_64", "aarch64":
	default:
		// The other arches are Fedora's secondary ones, in their own tree.
		tree = fedoraDL + "/fedora-secondary"
	}
	metalink := func(repo string) string { return fmt.Sprintf("%s?repo=%s&arch=%s", fedoraMetalink, repo, arch) }
	if release == "rawhide" {
		return []Repo{{Name: release, URL: fmt.Sprintf("%s/development/rawhide/Everything/%s/os/", tree, arch), Mirror: metalink("rawhide")}}
	}
	return []Repo{
		{Name: release, URL: fmt.Sprintf("%s/releases/%s/Everything/%s/os/", tree, release, arch), Mirror: metalink("fedora-" + release)},
		{Name: release + "-updates", URL: fmt.Sprintf("%s/updates/%s/Everything/%s/", tree, release, arch), Mirror: metalink("updates-released-f" + release)},
		{Name: release + "-updates-testing", URL: fmt.Sprintf("%s/updates/testing/%s/Everything/%s/", tree, release, arch), Mirror: metalink("updates-testing-f" + release)},
	}
}
