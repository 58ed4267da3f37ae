package tasks

// BuildKind is what a worker must be able to run to take a build: its
// image type and, for live images, the builder, since livemedia-creator
// and livecd-creator are separate tools a worker may have one of.
type BuildKind string

// The build kinds, one per builder.
const (
	KindBoot      BuildKind = "boot"
	KindDVD       BuildKind = "dvd"
	KindLiveMedia BuildKind = "live:" + BuilderLiveMedia
	KindLiveCD    BuildKind = "live:" + BuilderLiveCD
	KindKSISO     BuildKind = "ksiso"
)

// BuildKinds lists every build kind, in the order of ImageTypes.
var BuildKinds = []BuildKind{KindBoot, KindDVD, KindLiveMedia, KindLiveCD, KindKSISO}

// Kind is the build kind of s: what a worker needs to run it.
func (s *Spec) Kind() BuildKind {
	if s.Type == TypeLive {
		if s.Live != nil && s.Live.Builder == BuilderLiveCD {
			return KindLiveCD
		}
		return KindLiveMedia
	}
	return BuildKind(s.Type)
}

// CrossBuilds reports whether images of type t can be made on a machine of
// another arch. Only a kickstart ISO can: it remasters an ISO, while lorax,
// pungi and livemedia-creator install packages of the arch they run on.
func (t ImageType) CrossBuilds() bool { return t == TypeKSISO }

// RunsOn reports whether a machine of arch host runs programs of arch:
// its own, and i686 on x86_64, whose kernel runs i686 programs (how lorax
// --buildarch i686 and dnf --forcearch i686 build i686 images there, as
// the original service's i686 specs need).
func RunsOn(host, arch string) bool {
	return arch == host || (host == "x86_64" && arch == "i686")
}

// Spec returns the smallest spec of kind k, enough to choose its builder.
func (k BuildKind) Spec() *Spec {
	s := &Spec{}
	switch k {
	case KindBoot:
		s.Type, s.Boot = TypeBoot, &BootSpec{}
	case KindDVD:
		s.Type, s.DVD = TypeDVD, &DVDSpec{}
	case KindLiveMedia:
		s.Type, s.Live = TypeLive, &LiveSpec{Builder: BuilderLiveMedia}
	case KindLiveCD:
		s.Type, s.Live = TypeLive, &LiveSpec{Builder: BuilderLiveCD}
	case KindKSISO:
		s.Type, s.KSISO = TypeKSISO, &KSISOSpec{}
	}
	return s
}

// Capability is one build kind as a worker found itself able to run it
// or not: it advertises one per kind in its heartbeat.
type Capability struct {
	Kind BuildKind `json:"kind"`
	// Tools are the tools the kind's builder runs, as found on the worker.
	Tools []ToolVersion `json:"tools,omitempty"`
	// Missing, when set, is why the worker cannot run the kind: the first
	// tool it lacks and the packages that provide it.
	Missing string `json:"missing,omitempty"`
}

// ToolVersion is a build tool found on a worker.
type ToolVersion struct {
	Name string `json:"name"`
	// Path is the binary that runs.
	Path string `json:"path"`
	// Version is the first line the tool prints about its version, or ""
	// when it prints none.
	Version string `json:"version,omitempty"`
}
