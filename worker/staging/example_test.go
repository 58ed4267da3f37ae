package staging_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fedora-fbs/fbs/worker/staging"
)

// Staging a build's files into a local directory; sftp:// and ftp:// URLs
// work the same way.
func ExampleOpen() {
	src, _ := os.MkdirTemp("", "fbs-example-src")
	dst, _ := os.MkdirTemp("", "fbs-example-staging")
	defer os.RemoveAll(src)
	defer os.RemoveAll(dst)
	checksum := filepath.Join(src, "CHECKSUM")
	os.WriteFile(checksum, []byte("hello\n"), 0o644)

	st, err := staging.Open(context.Background(), "file://"+dst, staging.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	arts, err := st.Put(context.Background(), "01J9ZQ3C4V5W6X7Y8Z9A0B1C2D", []string{checksum})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range arts {
		fmt.Println(a.Name, a.Size, a.SHA256, filepath.Base(filepath.Dir(a.URL)))
	}
	// Output:
	// CHECKSUM 6 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 01J9ZQ3C4V5W6X7Y8Z9A0B1C2D
}
