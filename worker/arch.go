package worker

import "runtime"

// HostArch is this machine's architecture as an RPM arch name.
func HostArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	}
	return runtime.GOARCH // ppc64le, s390x are spelled the same
}
