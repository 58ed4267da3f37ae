package builder

import (
	"slices"

	"github.com/fedora-fbs/fbs/tasks"
)

// Packages lists the OS packages a worker on family ("fedora" or
// "debian") needs for every build kind it can run there: the packages of
// each builder's tools, for the kinds whose tools all have a package on
// that family, plus createrepo_c, which makes the side repositories of
// extra packages. The names come from the same table as the missing-tool
// errors.
func Packages(family string) []string {
	pkg := func(tool string) string {
		fedora, debian := toolPackages(tool)
		if family == "debian" {
			return debian
		}
		return fedora
	}
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, kind := range tasks.BuildKinds {
		b, err := New(kind.Spec(), nil)
		if err != nil {
			continue
		}
		var pkgs []string
		for _, tool := range b.(needer).needs() {
			p := pkg(tool)
			if p == "" {
				pkgs = nil
				break
			}
			pkgs = append(pkgs, p)
		}
		for _, p := range pkgs {
			add(p)
		}
	}
	add(pkg("createrepo_c"))
	slices.Sort(out)
	return out
}
