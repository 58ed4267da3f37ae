package siderepo

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
)

// RPM file layout: a 96-byte lead, then the signature header (magic, two
// counts, the index entries and the data store), padded to a multiple of 8,
// then the main header and the payload. RPMTAG_SIGMD5, which Koji reports as
// payloadhash, is the MD5 of everything after the padded signature header.
const (
	leadSize        = 96
	headerIntroSize = 16
	maxSigEntries   = 1 << 16
	maxSigData      = 64 << 20
)

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01}
)

// errShort means more bytes are needed before the answer is known.
var errShort = errors.New("short")

// sigHeaderEnd returns the offset of the main header in an RPM file whose
// first bytes are b, or errShort if b is too short to tell.
func sigHeaderEnd(b []byte) (int64, error) {
	if len(b) < leadSize+headerIntroSize {
		if len(b) >= len(leadMagic) && string(b[:len(leadMagic)]) != string(leadMagic) {
			return 0, fmt.Errorf("not an RPM: bad lead magic %x", b[:len(leadMagic)])
		}
		return 0, errShort
	}
	if string(b[:len(leadMagic)]) != string(leadMagic) {
		return 0, fmt.Errorf("not an RPM: bad lead magic %x", b[:len(leadMagic)])
	}
	intro := b[leadSize : leadSize+headerIntroSize]
	if string(intro[:len(headerMagic)]) != string(headerMagic) {
		return 0, fmt.Errorf("not an RPM: bad signature header magic %x at offset %d", intro[:len(headerMagic)], leadSize)
	}
	entries := binary.BigEndian.Uint32(intro[8:12])
	data := binary.BigEndian.Uint32(intro[12:16])
	if entries > maxSigEntries || data > maxSigData {
		return 0, fmt.Errorf("not an RPM: implausible signature header (%d entries, %d data bytes)", entries, data)
	}
	end := int64(leadSize+headerIntroSize) + 16*int64(entries) + int64(data)
	return (end + 7) &^ 7, nil
}

// payloadHasher computes an RPM's RPMTAG_SIGMD5 as the file streams through
// it, so a download is checked without reading it back.
type payloadHasher struct {
	head []byte // bytes held until the signature header's end is known
	skip int64  // offset of the main header; -1 until known
	seen int64
	md5  hash.Hash
	err  error
}

func newPayloadHasher() *payloadHasher {
	return &payloadHasher{skip: -1, md5: md5.New()}
}

// Write never fails: a file that is not an RPM is reported by Sum, after the
// download, as a checksum mismatch like any other corruption.
func (p *payloadHasher) Write(b []byte) (int, error) {
	n := len(b)
	if p.err != nil {
		return n, nil
	}
	start := p.seen
	p.seen += int64(n)
	if p.skip < 0 {
		p.head = append(p.head, b...)
		end, err := sigHeaderEnd(p.head)
		switch {
		case errors.Is(err, errShort):
			return n, nil
		case err != nil:
			p.err = err
			p.head = nil
			return n, nil
		}
		p.skip = end
		b, start = p.head, 0
		p.head = nil
	}
	if off := p.skip - start; off > 0 {
		if off >= int64(len(b)) {
			return n, nil
		}
		b = b[off:]
	}
	p.md5.Write(b)
	return n, nil
}

// Sum returns the hex RPMTAG_SIGMD5 of what was written.
func (p *payloadHasher) Sum() (string, error) {
	if p.err != nil {
		return "", p.err
	}
	if p.skip < 0 || p.seen < p.skip {
		return "", fmt.Errorf("not an RPM: truncated after %d bytes, inside the signature header", p.seen)
	}
	return hex.EncodeToString(p.md5.Sum(nil)), nil
}
