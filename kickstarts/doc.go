// Package kickstarts owns everything fbs does with Anaconda kickstarts:
// it flattens a kickstart tree (%include resolved, commands merged) with the
// same meaning as pykickstart's ksflatten, validates kickstarts with
// file:line problems, applies the include and fetch rules that keep a
// server's files and network out of reach, finds the standard kickstarts of
// each release (Fedora's synced by SyncRelease, the site's, the embedded
// ones), and adds repositories to flattened kickstarts.
//
// A kickstart is read for a Fedora release (Options.Release): with that
// release's syntax (SyntaxVersion; the flattened file's "#version=" line
// names it), and with its standard kickstarts (Library), where a standard
// name and an %include not found beside the including file resolve.
//
// Flattening follows pykickstart's parser: a single-instance command given
// again is merged option by option (options left out keep their value
// unless they have a real default, which resets them; aliases such as
// text/graphical share one slot); multi-use commands (part, repo, network,
// user...) accumulate verbatim in order; %packages sections merge line by
// line into one; scripts, %addon, %anaconda and %certificate sections keep
// their order, headers and bodies. Unlike ksflatten's output, fbs's output
// reads back to the same merged state (e.g. "keyboard us" followed by
// "keyboard --vckeymap=de" keeps the legacy layout).
//
// The command and option tables (syntax_table.go) are generated from
// pykickstart by internal/gensyntax; they describe the kickstart language
// of Fedora 40 to 45, one table per release (DEVEL, rawhide's, is the
// newest).
//
// Every read is bounded: 1 MiB per file or URL, 8 MiB and 200,000 lines
// per flatten in all (a file included twice counts twice), 64 KiB per line,
// includes nested at most 32 deep and at most 1000 of them; at most 1000
// warnings or problems are kept. Errors name the file and line, and wrap ErrNotFound, ErrRefused,
// ErrLimit or a *FetchError where that is the cause.
package kickstarts
