// Package conf reads the fbs service configuration: one INI file (by
// default /etc/fbs/fbs.conf) with FBS_<SECTION>_<KEY> environment overrides,
// defaults filled in, and every value checked before any component starts.
//
// Every key is a row of the table in keys.go; adding a key is adding a row
// (and a field to Config). Problems are reported all at once, each naming
// the file and line or the environment variable, the section and the key.
// Dump renders the effective configuration with secrets masked.
//
// Build specs, the other INI format of fbs, are read by conf/spec.
package conf
