// Package siderepo builds side repositories from Koji: it resolves the NVRs
// and build IDs a spec names through a Koji hub (XML-RPC getBuild and
// listRPMs), picks the RPMs for the build's arch plus noarch (never
// debuginfo or debugsource), downloads them into a cache shared by builds,
// and turns a directory of links into that cache into a yum repository with
// createrepo_c.
//
// What is verified of every download is what Koji itself records about the
// unsigned RPM it stores under its packages directory: the file size
// (rpminfo.size, taken with os.path.getsize at import) and the payloadhash
// (rpminfo.payloadhash, the RPMTAG_SIGMD5: the MD5 of the RPM's header and
// payload, that is everything after the lead and the signature header).
// Koji's getRPMChecksums only describes signed copies (one per sigkey under
// data/signed/), not the unsigned file downloaded here, so it is not used.
//
// The cache is addressed by that same pair, payloadhash and size: a file
// enters it only once it matched both, so no second hash of the whole file
// is computed (it cost a third of the download's CPU on loopback; see
// doc/benchmarks.md). Caches written with the older layout, files named by
// their SHA-256 and an index from Koji's pair to them, are migrated on
// first use.
package siderepo
