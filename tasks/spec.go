package tasks

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
)

// ImageType is the kind of image a build produces.
type ImageType string

// The image types fbs builds.
const (
	TypeBoot  ImageType = "boot"  // a boot ISO made by lorax
	TypeDVD   ImageType = "dvd"   // an installation DVD made by pungi
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
	Type    ImageType `json:"type"`
	Arch    string    `json:"arch"`
	Release string    `json:"release"`
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

// DVDSpec holds the [dvd] section: pungi's arguments.
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

// Queue returns the queue this spec's build goes to.
func (s *Spec) Queue() string { return QueueName(s.Arch, s.Release) }

// Validate checks the invariants every spec must hold however it was made
// (INI file, web form, JSON). Parsers report errors with file and key; this is
// the last line of defence before anything is enqueued.
func (s *Spec) Validate() error {
	if !s.Type.Valid() {
		return fmt.Errorf("unknown image type %q (want boot, dvd, live or ksiso)", s.Type)
	}
	if !ValidArch(s.Arch) {
		return fmt.Errorf("unknown arch %q", s.Arch)
	}
	if !ValidRelease(s.Release) {
		return fmt.Errorf("unknown release %q (want a number or rawhide)", s.Release)
	}
	if s.Staging == "" {
		return fmt.Errorf("no staging area")
	}
	set := 0
	for _, p := range []bool{s.Boot != nil, s.DVD != nil, s.Live != nil, s.KSISO != nil} {
		if p {
			set++
		}
	}
	want := map[ImageType]bool{TypeBoot: s.Boot != nil, TypeDVD: s.DVD != nil, TypeLive: s.Live != nil, TypeKSISO: s.KSISO != nil}
	if set != 1 || !want[s.Type] {
		return fmt.Errorf("spec of type %s must carry exactly the [%s] section", s.Type, s.Type)
	}
	if s.Type != TypeBoot && s.KickstartRef() == "" {
		return fmt.Errorf("type %s needs a kickstart (config)", s.Type)
	}
	if s.KSISO != nil && s.KSISO.ISO == "" {
		return fmt.Errorf("type ksiso needs a boot ISO (iso)")
	}
	if s.Live != nil && s.Live.Builder != BuilderLiveMedia && s.Live.Builder != BuilderLiveCD {
		return fmt.Errorf("unknown live builder %q (want %s or %s)", s.Live.Builder, BuilderLiveMedia, BuilderLiveCD)
	}
	for _, n := range s.NVRs {
		if !ValidNVR(n) {
			return fmt.Errorf("malformed NVR %q (want name-version-release)", n)
		}
	}
	for _, b := range s.BuildIDs {
		if n, err := strconv.Atoi(b); err != nil || n <= 0 {
			return fmt.Errorf("malformed Koji build ID %q (want a positive number)", b)
		}
	}
	return nil
}

var nvrRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9._+-]+-[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+$`)
})

// ValidNVR reports whether s looks like a Koji name-version-release.
func ValidNVR(s string) bool { return nvrRE().MatchString(s) }
