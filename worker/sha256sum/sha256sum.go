// Package sha256sum computes the SHA-256 of a file or a stream as
// sha256sum prints it: 64 lowercase hex digits. It is the one way the
// worker hashes what it has (images for CHECKSUM, DVD images for
// .treeinfo, the cached boot ISO, staged files read back); code that
// hashes while it copies (a download, an upload) keeps its own hash.Hash.
package sha256sum

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// Reader returns the hex SHA-256 of everything r yields up to EOF. A long
// read stops with ctx's error once ctx ends. A reader that writes itself
// out (io.WriterTo, as an SFTP file does with parallel reads) still does.
func Reader(ctx context.Context, r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(ctxWriter{ctx, h}, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// File returns the hex SHA-256 of the file at path; errors name the file.
func File(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("sha256 of %s: %w", path, err)
	}
	defer f.Close()
	sum, err := Reader(ctx, f)
	if err != nil {
		return "", fmt.Errorf("sha256 of %s: %w", path, err)
	}
	return sum, nil
}

// ctxWriter refuses writes once ctx is done, which ends io.Copy. It sits
// on the writer's side so that io.Copy still uses the source's WriteTo.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
