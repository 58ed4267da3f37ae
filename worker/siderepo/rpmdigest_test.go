package siderepo

import (
	"os"
	"testing"

	"github.com/fedora-fbs/fbs/testing/rpmtest"
)

// TestPayloadHasher checks the streamed RPMTAG_SIGMD5 against rpm's own
// reading of the header, whatever the write sizes.
func TestPayloadHasher(t *testing.T) {
	t.Parallel()
	paths := rpmtest.Build(t, rpmtest.Spec{Name: "fbs-digest", Version: "1", Release: "1", Packages: []rpmtest.Package{
		{Name: "fbs-digest", Payload: 100 << 10}, {Name: "fbs-digest-small", NoArch: true},
	}})
	for _, p := range paths {
		want := rpmtest.Query(t, p).SigMD5
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{1, 7, 100, 4096, len(b)} {
			h := newPayloadHasher()
			for i := 0; i < len(b); i += chunk {
				h.Write(b[i:min(i+chunk, len(b))])
			}
			got, err := h.Sum()
			if err != nil || got != want {
				t.Errorf("%s in %d-byte writes: Sum() = %q, %v; want %q", p, chunk, got, err, want)
			}
		}
	}
	for name, b := range map[string][]byte{"empty": nil, "not an RPM": []byte("<html>404</html>")} {
		h := newPayloadHasher()
		h.Write(b)
		if _, err := h.Sum(); err == nil {
			t.Errorf("%s: Sum() gave no error", name)
		}
	}
}

// FuzzSigHeaderEnd feeds the signature header parser arbitrary bytes: it
// must never panic, and an offset it returns must lie past the lead.
func FuzzSigHeaderEnd(f *testing.F) {
	lead := make([]byte, leadSize+headerIntroSize)
	copy(lead, leadMagic)
	copy(lead[leadSize:], headerMagic)
	f.Add(lead)
	f.Add([]byte{0xed, 0xab})
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := sigHeaderEnd(b)
		if err == nil && (end < leadSize+headerIntroSize || end%8 != 0) {
			t.Errorf("sigHeaderEnd = %d", end)
		}
		h := newPayloadHasher()
		h.Write(b)
		_, _ = h.Sum()
	})
}
