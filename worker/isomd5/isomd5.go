// Package isomd5 implants the checksum that Anaconda's media check ("Test
// this media & install", checkisomd5) verifies into an ISO 9660 image, the
// way isomd5sum's implantisomd5 does, byte for byte: fbs writes it itself
// instead of running implantisomd5, so a kickstart ISO build needs no extra
// tool and, with Summer, no second read of the image.
//
// What is implanted, as isomd5sum defines it: the primary volume
// descriptor (sector 16) holds the image size in sectors; the MD5 covers
// the image from byte 0 up to that size less the last SkipSectors sectors
// (burners had trouble reading the last few), with the 512-byte
// application-use area of the descriptor (byte 883 of the sector) taken as
// spaces. Along the way, at each of FragmentCount boundaries, the first
// three bytes of the running MD5 give three hex digits of the fragment sums,
// which let the media check stop early on a bad disc. The result is written
// into the application-use area as one text record:
//
//	ISO MD5SUM = <md5>;SKIPSECTORS = 15;RHLISOSTATUS=0;FRAGMENT SUMS = <60 digits>;FRAGMENT COUNT = 20;THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!
//
// padded with spaces. implantisomd5 reads the image in 32 KiB blocks and
// takes a fragment sum after the first block that starts in a new
// fragment, so a sum includes the rest of that block; Summer does the same,
// which is why its output equals implantisomd5's and not just a checksum
// checkisomd5 accepts.
//
// The package does not own the MD5 check at install time (Anaconda runs
// checkisomd5), nor the SHA-256 in CHECKSUM files (the build pipeline).
package isomd5

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
)

// The layout isomd5sum uses.
const (
	// SectorSize is the ISO 9660 logical sector size.
	SectorSize = 2048
	// PVDOffset is the byte offset of the primary volume descriptor that
	// isomd5sum reads (sector 16, right after the system area).
	PVDOffset = 16 * SectorSize
	// AppDataOffset is the offset of the application-use area inside the
	// primary volume descriptor (ECMA-119 8.4.32).
	AppDataOffset = 883
	// AppDataSize is the size of the application-use area.
	AppDataSize = 512
	// SkipSectors is how many sectors at the end of the image the MD5
	// leaves out.
	SkipSectors = 15
	// FragmentCount is the number of fragment sums.
	FragmentCount = 20
	// fragmentDigits is how many hex digits each fragment contributes.
	fragmentDigits = 3
	// blockSize is implantisomd5's read size; fragment sums are taken on
	// its boundaries.
	blockSize = 16 * SectorSize
	// sizeOffset is where the volume space size (in sectors, big-endian
	// half of the both-endian field) sits in the descriptor.
	sizeOffset = 84
)

// ErrAppDataUsed is returned by Implant when the application-use area holds
// something else than spaces and Options.Force is not set.
var ErrAppDataUsed = errors.New("the application-use area of the primary volume descriptor is in use (implantisomd5 refuses it without --force)")

// Options are implantisomd5's flags.
type Options struct {
	// Force overwrites an application-use area that is not blank, such as
	// a checksum implanted before (implantisomd5 --force).
	Force bool
	// Supported sets RHLISOSTATUS=1 (implantisomd5 --supported-iso).
	Supported bool
}

// Sums is what was implanted.
type Sums struct {
	// MD5 is the hex MD5 of the image as isomd5sum defines it; it is not
	// the md5sum of the file.
	MD5 string
	// FragmentSums are the fragment digits, concatenated.
	FragmentSums string
	// AppData is the application-use area as written.
	AppData [AppDataSize]byte
}

// Implant implants the checksum into the image at path with implantisomd5's
// defaults (no --force, no --supported-iso).
func Implant(ctx context.Context, path string) (Sums, error) {
	return Options{}.Implant(ctx, path)
}

// Implant reads the image at path once, computes its checksum and writes it
// into the application-use area of its primary volume descriptor.
func (o Options) Implant(ctx context.Context, path string) (Sums, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Sums{}, fmt.Errorf("implant MD5 in %s: %w", path, err)
	}
	sums, err := o.implantFile(ctx, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return Sums{}, fmt.Errorf("implant MD5 in %s: %w", path, err)
	}
	return sums, nil
}

func (o Options) implantFile(ctx context.Context, f *os.File) (Sums, error) {
	s := o.NewSummer()
	// One large read at a time; Summer cuts it into implantisomd5's blocks.
	buf := make([]byte, 1<<20)
	r := io.Reader(f)
	for {
		if err := ctx.Err(); err != nil {
			return Sums{}, err
		}
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				return Sums{}, werr
			}
			if s.Done() {
				break
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Sums{}, err
		}
	}
	sums, err := s.Sums()
	if err != nil {
		return Sums{}, err
	}
	if _, err := f.WriteAt(sums.AppData[:], PVDOffset+AppDataOffset); err != nil {
		return Sums{}, err
	}
	return sums, nil
}

// Summer computes the checksum of an image from its bytes written in order,
// from byte 0: a file read once, or a tool's output as it is written. It
// needs no more than the image's first SkipSectors-trimmed size; bytes past
// that are ignored.
type Summer struct {
	opts Options
	md5  hash.Hash
	// off is how many image bytes were consumed.
	off int64
	// block holds the bytes of the current, incomplete 32 KiB block.
	block []byte
	// pvd is the primary volume descriptor, once read.
	pvd      []byte
	total    int64 // bytes covered by the MD5; known with the descriptor
	fragSize int64
	prevFrag int64
	frags    []byte
	err      error
}

// NewSummer returns a Summer for an image to be implanted with o.
func (o Options) NewSummer() *Summer {
	return &Summer{opts: o, md5: md5.New(), block: make([]byte, 0, blockSize), total: -1}
}

// Write consumes the next bytes of the image. It fails once the primary
// volume descriptor turns out missing or, without Force, in use.
func (s *Summer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.err == nil && !s.Done() {
		k := min(len(p), blockSize-len(s.block))
		if s.total >= 0 {
			k = int(min(int64(k), s.total-s.off-int64(len(s.block))))
		}
		s.block = append(s.block, p[:k]...)
		p = p[k:]
		if len(s.block) == blockSize || (s.total >= 0 && s.off+int64(len(s.block)) == s.total) {
			s.flush()
		}
	}
	if s.err != nil {
		return 0, s.err
	}
	return n, nil
}

// Done reports whether every byte the MD5 covers has been consumed.
func (s *Summer) Done() bool { return s.total >= 0 && s.off >= s.total }

// flush hashes the current block as implantisomd5 does one read.
func (s *Summer) flush() {
	b := s.block
	start := s.off
	if s.pvd == nil && start+int64(len(b)) >= PVDOffset+SectorSize && start <= PVDOffset {
		s.readPVD(b[PVDOffset-start : PVDOffset-start+SectorSize])
		if s.err != nil {
			return
		}
		// The MD5 treats the application-use area as blank.
		area := b[PVDOffset-start+AppDataOffset:][:AppDataSize]
		if !s.opts.Force && !allSpaces(area) {
			s.err = ErrAppDataUsed
			return
		}
		copy(area, bytes.Repeat([]byte{' '}, AppDataSize))
	}
	s.md5.Write(b)
	if s.fragSize > 0 {
		if cur := start / s.fragSize; cur != s.prevFrag {
			s.frags = append(s.frags, fragmentDigits3(s.md5.Sum(nil))...)
			s.prevFrag = cur
		}
	}
	s.off += int64(len(b))
	s.block = s.block[:0]
}

func (s *Summer) readPVD(d []byte) {
	if d[0] != 1 || string(d[1:6]) != "CD001" {
		s.err = fmt.Errorf("no ISO 9660 primary volume descriptor at byte %d", PVDOffset)
		return
	}
	s.pvd = append([]byte(nil), d...)
	sectors := int64(d[sizeOffset])<<24 | int64(d[sizeOffset+1])<<16 | int64(d[sizeOffset+2])<<8 | int64(d[sizeOffset+3])
	s.total = (sectors - SkipSectors) * SectorSize
	if s.total < 2*blockSize {
		s.err = fmt.Errorf("the primary volume descriptor gives a volume of %d sectors, too small for a checksum", sectors)
		return
	}
	s.fragSize = s.total / (FragmentCount + 1)
}

// fragmentDigits3 is implantisomd5's fragment digit for each of the first
// three digest bytes: the first hex digit of the byte printed without
// leading zeros.
func fragmentDigits3(digest []byte) []byte {
	const hexDigits = "0123456789abcdef"
	out := make([]byte, fragmentDigits)
	for i := range out {
		b := digest[i]
		if b >= 16 {
			b >>= 4
		}
		out[i] = hexDigits[b]
	}
	return out
}

func allSpaces(b []byte) bool {
	for _, c := range b {
		if c != ' ' {
			return false
		}
	}
	return true
}

// Sums finishes the checksum: call it after the last Write (or at the end of
// a shorter input, which implantisomd5 also hashes as far as it goes).
func (s *Summer) Sums() (Sums, error) {
	if s.err != nil {
		return Sums{}, s.err
	}
	if len(s.block) > 0 {
		s.flush()
		if s.err != nil {
			return Sums{}, s.err
		}
	}
	if s.pvd == nil {
		return Sums{}, fmt.Errorf("no ISO 9660 primary volume descriptor at byte %d: the image is too short", PVDOffset)
	}
	sums := Sums{MD5: hex.EncodeToString(s.md5.Sum(nil)), FragmentSums: string(s.frags)}
	status := 0
	if s.opts.Supported {
		status = 1
	}
	rec := "ISO MD5SUM = " + sums.MD5 + ";SKIPSECTORS = " + strconv.Itoa(SkipSectors) +
		";RHLISOSTATUS=" + strconv.Itoa(status) + ";FRAGMENT SUMS = " + sums.FragmentSums +
		";FRAGMENT COUNT = " + strconv.Itoa(FragmentCount) + ";THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!"
	for i := range sums.AppData {
		sums.AppData[i] = ' '
	}
	copy(sums.AppData[:], rec)
	return sums, nil
}
