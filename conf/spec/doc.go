// Package spec reads and writes build specs: the INI files in which users ask
// fbs for an image, in the format of the original 2012 build service.
//
// A spec has a [DEFAULT] section (type, arch, release, staging, email) and a
// section named after the image type ([boot], [dvd], [live] or [ksiso]) with
// the builder's arguments. Parse turns the text into a validated tasks.Spec,
// reporting every problem at once with file, section, key and line; Marshal
// writes a tasks.Spec back in the same format, so a build can be resubmitted
// or shown as the spec that asked for it.
//
// The parser checks form, not policy: whether a staging directory or a
// kickstart path is allowed is for the worker and the submitter to decide.
package spec
