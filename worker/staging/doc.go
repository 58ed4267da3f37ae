// Package staging owns the transfer of a build's files into the user's
// staging area: a local directory (file://), an SFTP server (sftp://) or an
// FTP server (ftp://, ftps://, or a bare host meaning anonymous FTP into
// pub/).
//
// Every scheme gives the same guarantees. Files go into <dir>/<build id>/,
// each written under a hidden temporary name (.name.part) and renamed only
// once its size and SHA256 have been verified on the remote side, so nobody
// listing the staging area ever sees a partial or corrupt file. An upload cut
// in the middle resumes from what the remote side already holds when Put is
// called again, which is what the worker's transfer retry task does; a file
// already staged with the same size and SHA256 is skipped.
//
// Credentials (SSH keys, FTP passwords) come from the worker's configuration
// keyed by host, never from a submitted URL when the request is remote, and
// never appear in errors, log lines or the artifact URLs returned.
package staging
