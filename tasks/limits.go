package tasks

import "fmt"

// Limits of the free-text fields of a request. Every field a submitter
// writes has one, so no request can make a record, a page, a mail header
// or a tool's command line of unbounded size; doc/api.md lists them. They
// are checked first, by Spec.Validate (and, for mail addresses, by
// ParseRecipients, the one mail address rule), before any rule that would
// quote the value back.
const (
	// MaxEmail is the longest mail address (RFC 5321's limit on a path).
	MaxEmail = 254
	// MaxName bounds names, versions, titles and products: [boot] product,
	// release, version; [dvd] name, version, flavor; [live] title, product,
	// releasever; repository names.
	MaxName = 100
	// MaxURL bounds URLs and references: staging, [boot] repositories,
	// mirrors and proxy, [dvd] bugurl, config (a kickstart name, path or
	// URL), [ksiso] iso.
	MaxURL = 2048
	// MaxCmdline bounds [ksiso] cmdline, the extra kernel arguments.
	MaxCmdline = 1024
	// MaxPackages bounds the nvr= and bid= lists, each.
	MaxPackages = 100
	// MaxNVR bounds one nvr= or bid= entry.
	MaxNVR = 255
	// MaxRepos bounds the [boot] repositories.
	MaxRepos = 50
	// MaxFileName bounds an uploaded kickstart's file name, and each
	// [ksiso] add and updates name.
	MaxFileName = 255
	// MaxVolID bounds [ksiso] volid: ISO 9660's volume identifier field.
	MaxVolID = 32
	// MaxAdd bounds the [ksiso] add list.
	MaxAdd = 32
	// MaxReplace bounds the [ksiso] replace pairs; each side is at most
	// MaxName.
	MaxReplace = 20
)

// limit is a field's value and its bound.
type limit struct {
	field string
	value string
	max   int
}

// checkLimits returns an error for each field over its limit. The
// messages give the length, never the value.
func (s *Spec) checkLimits() Errors {
	ls := []limit{
		{FieldArch, s.Arch, MaxName}, {FieldRelease, s.Release, MaxName},
		{FieldStaging, s.Staging, MaxURL}, {FieldEmail, s.Email, MaxEmail},
		{FieldKickstart, s.KickstartRef(), MaxURL},
	}
	if b := s.Boot; b != nil {
		ls = append(ls, limit{"boot.product", b.Product, MaxName}, limit{"boot.release", b.Release, MaxName},
			limit{"boot.version", b.Version, MaxName}, limit{"boot.proxy", b.Proxy, MaxURL})
		for _, r := range b.Repos {
			ls = append(ls, limit{string(TypeBoot), r.Name, MaxName}, limit{string(TypeBoot), r.URL, MaxURL},
				limit{string(TypeBoot), r.Mirror, MaxURL})
		}
	}
	if d := s.DVD; d != nil {
		ls = append(ls, limit{"dvd.name", d.Name, MaxName}, limit{"dvd.version", d.Version, MaxName},
			limit{"dvd.flavor", d.Flavor, MaxName}, limit{"dvd.bugurl", d.BugURL, MaxURL}, limit{"dvd.stage", d.Stage, MaxName})
	}
	if l := s.Live; l != nil {
		ls = append(ls, limit{"live.label", l.Label, MaxName}, limit{"live.title", l.Title, MaxName},
			limit{"live.product", l.Product, MaxName}, limit{"live.releasever", l.ReleaseVer, MaxName},
			limit{FieldBuilder, l.Builder, MaxName})
	}
	if k := s.KSISO; k != nil {
		ls = append(ls, limit{FieldISO, k.ISO, MaxURL}, limit{FieldCmdline, k.Cmdline, MaxCmdline},
			limit{FieldRmArgs, k.RmArgs, MaxCmdline}, limit{FieldUpdates, k.Updates, MaxFileName},
			limit{FieldVolID, k.VolID, MaxName})
		for _, a := range k.Add {
			ls = append(ls, limit{FieldAdd, a, MaxFileName})
		}
		for _, r := range k.Replace {
			ls = append(ls, limit{FieldReplace, r.From, MaxName}, limit{FieldReplace, r.To, MaxName})
		}
	}
	for _, n := range s.NVRs {
		ls = append(ls, limit{FieldNVRs, n, MaxNVR})
	}
	for _, b := range s.BuildIDs {
		ls = append(ls, limit{FieldBuildIDs, b, MaxNVR})
	}
	var errs Errors
	seen := map[string]bool{}
	add := func(field, format string, args ...any) {
		if !seen[field] {
			seen[field] = true
			errs = append(errs, Invalid(field, format, args...))
		}
	}
	if s.Boot != nil && len(s.Boot.Repos) > MaxRepos {
		add(string(TypeBoot), "%d repositories: at most %d", len(s.Boot.Repos), MaxRepos)
	}
	if len(s.NVRs) > MaxPackages {
		add(FieldNVRs, "%d packages: at most %d", len(s.NVRs), MaxPackages)
	}
	if k := s.KSISO; k != nil && len(k.Add) > MaxAdd {
		add(FieldAdd, "%d files: at most %d", len(k.Add), MaxAdd)
	}
	if k := s.KSISO; k != nil && len(k.Replace) > MaxReplace {
		add(FieldReplace, "%d pairs: at most %d", len(k.Replace), MaxReplace)
	}
	if len(s.BuildIDs) > MaxPackages {
		add(FieldBuildIDs, "%d Koji builds: at most %d", len(s.BuildIDs), MaxPackages)
	}
	for _, l := range ls {
		if len(l.value) > l.max {
			add(l.field, "%s", tooLong(len(l.value), l.max))
		}
	}
	return errs
}

// tooLong says a value is over its limit without quoting it.
func tooLong(n, max int) string {
	return fmt.Sprintf("%d characters long: at most %d", n, max)
}
