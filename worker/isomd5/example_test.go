package isomd5_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/fedora-fbs/fbs/worker/isomd5"
)

// Implant an ISO written earlier, as `implantisomd5 boot.iso` would.
func ExampleImplant() {
	sums, err := isomd5.Implant(context.Background(), "boot.iso")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("media-check MD5", sums.MD5)
}

// Compute the checksum while the image is written (here copied from a
// stream) and implant it with one write at the end, instead of reading the
// image again.
func ExampleSummer() {
	var image io.Reader // the image as a tool writes it
	out, err := os.Create("boot.iso")
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	s := isomd5.Options{Force: true}.NewSummer()
	if _, err := io.Copy(io.MultiWriter(out, s), image); err != nil {
		log.Fatal(err)
	}
	sums, err := s.Sums()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := out.WriteAt(sums.AppData[:], isomd5.PVDOffset+isomd5.AppDataOffset); err != nil {
		log.Fatal(err)
	}
}
