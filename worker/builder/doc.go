// Package builder runs the tools that make Fedora images: lorax for boot
// ISOs, lorax, dnf, createrepo_c, xorriso and implantisomd5 for installation
// DVDs (dvd.go), livemedia-creator or livecd-creator for
// live images, and xorriso with mtools for kickstart ISOs (a boot ISO with a
// kickstart injected, the way lorax's mkksiso does it).
//
// A worker picks a Builder with New, hands it a Job whose every path it chose
// itself, and gets the images in Job.OutDir. Every tool runs in its own
// process group, its output is streamed line by line into the build log, and
// cancelling the context kills the whole group. A tool that is not installed
// is a *ToolError; a tool that fails is an *ExitError carrying the last lines
// of its output.
package builder
