package tasks

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// ImageType is the kind of image a build produces.
type ImageType string

// The image types fbs builds.
const (
	TypeBoot  ImageType = "boot"  // a boot ISO made by lorax
	TypeDVD   ImageType = "dvd"   // an installation DVD: lorax, dnf, createrepo_c, xorriso
	TypeLive  ImageType = "live"  // a live image made by livemedia-creator or livecd-creator
	TypeKSISO ImageType = "ksiso" // a boot ISO with a kickstart injected, made with xorriso
)

// ImageTypes lists the image types in the order forms and help text show them.
var ImageTypes = []ImageType{TypeBoot, TypeDVD, TypeLive, TypeKSISO}

// Valid reports whether t is one of the known image types.
func (t ImageType) Valid() bool {
	for _, k := range ImageTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Arches are the RPM architecture names fbs accepts.
var Arches = []string{"x86_64", "aarch64", "ppc64le", "s390x", "i686"}

// ValidArch reports whether arch is a known RPM architecture name.
func ValidArch(arch string) bool {
	for _, a := range Arches {
		if a == arch {
			return true
		}
	}
	return false
}

// ValidRelease reports whether r is a Fedora release: a number or "rawhide".
func ValidRelease(r string) bool {
	if r == "rawhide" {
		return true
	}
	n, err := strconv.Atoi(r)
	return err == nil && n > 0 && n < 1000 && strconv.Itoa(n) == r
}

// Spec is a validated build request: what to build, for which arch and
// release, where the results go and who is told. Exactly one of Boot, DVD,
// Live and KSISO is set, matching Type.
type Spec struct {
	Type ImageType `json:"type"`
	// Arch is one arch, or several separated by commas in a request for
	// a group (see Group); each member build's spec has one.
	Arch    string `json:"arch"`
	Release string `json:"release"`
	// Staging is where images, CHECKSUM, the kickstart and the log go
	// (file:///dir, sftp://user@host/dir, ftp://host/dir, or a bare host
	// meaning anonymous FTP into pub/).
	Staging string `json:"staging"`
	// Email receives the submission and completion mails; may be empty.
	Email string `json:"email,omitempty"`
	// NVRs and BuildIDs name extra packages from Koji to add as a side
	// repository (nvr= and bid= in every section).
	NVRs     []string `json:"nvrs,omitempty"`
	BuildIDs []string `json:"build_ids,omitempty"`

	Boot  *BootSpec  `json:"boot,omitempty"`
	DVD   *DVDSpec   `json:"dvd,omitempty"`
	Live  *LiveSpec  `json:"live,omitempty"`
	KSISO *KSISOSpec `json:"ksiso,omitempty"`
}

// Repo is a package source for lorax: a base URL, a mirror list or both.
type Repo struct {
	// Name is the spec key prefix it came from, e.g. "41" or "41-updates".
	Name   string `json:"name"`
	URL    string `json:"url,omitempty"`
	Mirror string `json:"mirror,omitempty"`
}

// BootSpec holds the [boot] section: lorax's arguments.
type BootSpec struct {
	Product        string `json:"product"`
	Release        string `json:"release"`
	Version        string `json:"version"`
	Updates        bool   `json:"updates"`
	UpdatesTesting bool   `json:"updates_testing"`
	Repos          []Repo `json:"repos"`
	Proxy          string `json:"proxy,omitempty"`
}

// DVDSpec holds the [dvd] section (doc/howto.md, "The [dvd] keys": Name,
// Version, Flavor, Config and BugURL shape the DVD; NoSource, SourceISOs,
// Force and Stage are the original pungi keys, kept so old specs parse).
type DVDSpec struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Flavor     string `json:"flavor"`
	Config     string `json:"config"`
	BugURL     string `json:"bugurl,omitempty"`
	NoSource   bool   `json:"nosource"`
	SourceISOs bool   `json:"sourceisos"`
	Force      bool   `json:"force"`
	Stage      string `json:"stage,omitempty"`
}

// Live image builders.
const (
	BuilderLiveMedia = "livemedia-creator"
	BuilderLiveCD    = "livecd-creator"
)

// LiveSpec holds the [live] section.
type LiveSpec struct {
	Label      string `json:"label"`
	Title      string `json:"title"`
	Product    string `json:"product"`
	ReleaseVer string `json:"releasever"`
	Config     string `json:"config"`
	// Builder is BuilderLiveMedia (the default) or BuilderLiveCD.
	Builder string `json:"builder"`
}

// KSISOSpec holds the [ksiso] section: a boot ISO with a kickstart injected.
type KSISOSpec struct {
	// ISO is an http(s) URL, the name of an ISO in the worker's iso_dir, or,
	// for local builds only, a path on the submitter's machine.
	ISO     string `json:"iso"`
	Config  string `json:"config"`
	Cmdline string `json:"cmdline,omitempty"`
	// RmArgs names kernel arguments, separated by spaces, removed from
	// every kernel line before Cmdline is added (mkksiso --rm-args).
	RmArgs string `json:"rm_args,omitempty"`
	// Updates is the name of an updates image in the worker's iso_dir,
	// put at the ISO root and named by inst.updates= (mkksiso --updates).
	Updates string `json:"updates,omitempty"`
	// Add names files or directories in the worker's iso_dir put at the
	// ISO root under the same names (mkksiso --add).
	Add []string `json:"add,omitempty"`
	// VolID is the new volume ID; every hd:LABEL= and GRUB search label
	// that named the old one is changed (mkksiso --volid). Empty keeps it.
	VolID string `json:"volid,omitempty"`
	// Replace are text replacements made in every boot configuration
	// (mkksiso --replace FROM TO).
	Replace []Replace `json:"replace,omitempty"`
}

// KickstartRef returns the spec's kickstart reference (config=), or "" for
// image types that build without one.
func (s *Spec) KickstartRef() string {
	switch {
	case s.DVD != nil:
		return s.DVD.Config
	case s.Live != nil:
		return s.Live.Config
	case s.KSISO != nil:
		return s.KSISO.Config
	}
	return ""
}

// SetKickstartRef sets the spec's kickstart reference (config=) of the
// image types that have one.
func (s *Spec) SetKickstartRef(ref string) {
	switch {
	case s.DVD != nil:
		s.DVD.Config = ref
	case s.Live != nil:
		s.Live.Config = ref
	case s.KSISO != nil:
		s.KSISO.Config = ref
	}
}

// Queue returns the queue this spec's build goes to.
func (s *Spec) Queue() string { return QueueName(s.Arch, s.Release) }

// Field paths name a spec's fields in errors: the key's name for the
// [DEFAULT] keys, section.key for the keys of an image type's section, and
// these for the rest. Adapters (the web form, the JSON API, the INI spec,
// the CLI) map them to the names their users know.
const (
	FieldType      = "type"
	FieldArch      = "arch"
	FieldRelease   = "release"
	FieldStaging   = "staging"
	FieldEmail     = "email"
	FieldKickstart = "kickstart" // config= of dvd, live and ksiso
	FieldISO       = "ksiso.iso"
	FieldCmdline   = "ksiso.cmdline"
	FieldBuilder   = "live.builder"
	FieldNVRs      = "nvr" // nvr= of the image type's section
	FieldBuildIDs  = "bid" // bid= of the image type's section
)

// Validate checks the invariants every spec must hold however it was made
// (INI file, web form, JSON): it is the one place each rule on a field is
// written. It returns Errors, one per field at fault, in field order, or
// nil. Where a request may come from and what a server offers are checked
// on top of it by tasks/submission.
func (s *Spec) Validate() error {
	if errs := s.checkLimits(); len(errs) > 0 {
		return errs // nothing past a limit is parsed or quoted back
	}
	var errs Errors
	add := func(field, format string, args ...any) { errs = append(errs, Invalid(field, format, args...)) }
	if !s.Type.Valid() {
		add(FieldType, "unknown image type %q (want boot, dvd, live or ksiso)", s.Type)
	}
	if err := checkArches(s.Arch); err != nil {
		add(FieldArch, "%v", err)
	}
	if !ValidRelease(s.Release) {
		add(FieldRelease, "unknown release %q (want a number such as 42, or rawhide)", s.Release)
	}
	if s.Staging == "" {
		add(FieldStaging, "missing: where the images go")
	} else if err := checkSpecStaging(s.Staging); err != nil {
		add(FieldStaging, "%v", err)
	}
	if s.Email != "" {
		if err := CheckEmail(s.Email); err != nil {
			add(FieldEmail, "%q is not a single mail address", s.Email)
		}
	}
	if s.Type.Valid() {
		set := 0
		for _, p := range []bool{s.Boot != nil, s.DVD != nil, s.Live != nil, s.KSISO != nil} {
			if p {
				set++
			}
		}
		want := map[ImageType]bool{TypeBoot: s.Boot != nil, TypeDVD: s.DVD != nil, TypeLive: s.Live != nil, TypeKSISO: s.KSISO != nil}
		switch {
		case set != 1 || !want[s.Type]:
			add(FieldType, "spec of type %s must carry exactly the [%s] section", s.Type, s.Type)
		case s.Type != TypeBoot && s.KickstartRef() == "":
			add(FieldKickstart, "type %s needs a kickstart (config)", s.Type)
		}
	}
	if s.KSISO != nil {
		if s.KSISO.ISO == "" {
			add(FieldISO, "type ksiso needs a boot ISO (iso)")
		} else if err := CheckISORef(s.KSISO.ISO, true); err != nil {
			add(FieldISO, "%v", err)
		}
		if err := CheckKernelCmdline(s.KSISO.Cmdline); err != nil {
			add(FieldCmdline, "kernel command line: %v", err)
		}
		s.KSISO.checkOptions(add)
	}
	if s.Live != nil && s.Live.Builder != BuilderLiveMedia && s.Live.Builder != BuilderLiveCD {
		add(FieldBuilder, "unknown live builder %q (want %s or %s)", s.Live.Builder, BuilderLiveMedia, BuilderLiveCD)
	}
	for _, n := range s.NVRs {
		if !ValidNVR(n) {
			add(FieldNVRs, "malformed NVR %q (want name-version-release, e.g. wget-1.24.5-1.fc41)", n)
		}
	}
	for _, b := range s.BuildIDs {
		if !ValidKojiBuildID(b) {
			add(FieldBuildIDs, "malformed Koji build ID %q (want a positive number)", b)
		}
	}
	return errs.Err()
}

var nvrRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9._+-]+-[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+$`)
})

// ValidNVR reports whether s looks like a Koji name-version-release.
func ValidNVR(s string) bool { return nvrRE().MatchString(s) }

// ValidKojiBuildID reports whether s is a Koji build ID: a positive
// decimal number of at most 12 digits, without sign or spaces.
func ValidKojiBuildID(s string) bool {
	if s == "" || len(s) > 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return strings.TrimLeft(s, "0") != ""
}

// CheckISORef is the rule of a ksiso iso= value: an http(s) URL, or the
// bare name of an ISO in the worker's iso_dir, which a worker resolves
// itself; or, when paths is set (`fbs build --local` alone), a path on this
// machine. A request never names a file on a worker.
func CheckISORef(v string, paths bool) error {
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		switch {
		case err != nil:
			return fmt.Errorf("%q is not a URL", v)
		case u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("%q has scheme %q (want http, https)", v, u.Scheme)
		case u.Host == "":
			return fmt.Errorf("%q has no host", v)
		}
		return nil
	}
	if !paths && (strings.ContainsAny(v, "/\\") || v == "." || v == "..") {
		return fmt.Errorf("%q is a path: a worker only takes an http(s) URL or the name of an ISO in its iso_dir (use `fbs build --local` to build from a local ISO)", v)
	}
	return nil
}
