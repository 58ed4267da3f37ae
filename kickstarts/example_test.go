package kickstarts_test

import (
	"context"
	"fmt"
	"testing/fstest"

	"github.com/fedora-fbs/fbs/kickstarts"
)

// An upload of two files that include each other, flattened as the web
// form does: includes stay inside the upload.
func ExampleFlattenFS() {
	upload := fstest.MapFS{
		"spin.ks": {Data: []byte("%include base.ks\nkeyboard --vckeymap=de\n%packages\n-vim-minimal\nvim-enhanced\n%end\n")},
		"base.ks": {Data: []byte("lang en_US.UTF-8\nkeyboard us\n%packages\n@core\nvim-minimal\n%end\n")},
	}
	r, err := kickstarts.FlattenFS(context.Background(), upload, "spin.ks", kickstarts.Options{Confined: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(r.Text)
	// Output:
	// # Flattened by fbs from spin.ks
	// #version=F45
	// lang en_US.UTF-8
	// keyboard --vckeymap=de us
	//
	// %packages
	// @core
	// vim-enhanced
	// -vim-minimal
	// %end
}

func ExampleAddRepo() {
	ks := "lang C\n\n%packages\n@core\n%end\n"
	fmt.Print(kickstarts.AddRepo(ks, "fbs-extra", "http://fbs.example.org/repo/"))
	// Output:
	// lang C
	//
	// repo --name=fbs-extra --baseurl=http://fbs.example.org/repo/
	//
	// %packages
	// @core
	// %end
}
