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
// file:// staging on the filesystem of the worker's data dir hard-links
// each file under its part name instead of copying it, fsyncs it and
// renames it into place: no byte is copied, and the staged file is the very
// inode the SHA256 was computed from (os.SameFile), so it is not read again
// to verify it. On another filesystem (EXDEV) or one without hard links the
// file is copied and verified like any other scheme.
//
// Verification: the remote size is checked, then the SHA256. Over SFTP the
// hash is computed on the server by running openssl dgst (or sha256sum) over
// the same SSH connection, which costs a disk read there and 64 bytes on the
// wire; reading a 2 GiB image back would double the transfer. Accounts that
// may only use SFTP refuse commands, and then the file is read back. FTP has
// no standard hash command, so FTP files are always read back. The local
// hash runs in parallel with the remote one.
//
// SFTP uploads keep 64 writes of 32 KiB in flight on one connection (the
// same as OpenSSH's sftp(1)), which hides round trips; since concurrent
// writes cut off by a broken link may leave holes just below the end of the
// part file, a resumed SFTP upload starts 4 MiB before its end.
//
// Credentials (SSH keys, FTP passwords) come from the worker's configuration
// keyed by host, never from a submitted URL when the request is remote, and
// never appear in errors, log lines or the artifact URLs returned.
package staging
