package builds_test

import (
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
)

func TestUnserved(t *testing.T) {
	t.Parallel()
	q41 := []string{tasks.QueueName("x86_64", "41")}
	full := &builds.WorkerInfo{Host: "full", Queues: q41, Capabilities: []tasks.Capability{{Kind: tasks.KindDVD}, {Kind: tasks.KindKSISO}}}
	noPungi := &builds.WorkerInfo{Host: "nopungi", Queues: q41, Capabilities: []tasks.Capability{{Kind: tasks.KindDVD, Missing: "pungi not found in PATH"}, {Kind: tasks.KindKSISO}}}
	old := &builds.WorkerInfo{Host: "old", Queues: q41} // advertises nothing: runs every kind
	draining := &builds.WorkerInfo{Host: "draining", Queues: q41, Draining: true}
	low := &builds.WorkerInfo{Host: "low", Queues: q41, LowSpace: "data dir low on space (1.0 GiB free, min_free 2.0 GiB)"}
	for _, tc := range []struct {
		name    string
		ws      []*builds.WorkerInfo
		release string
		kind    tasks.BuildKind
		want    string // in the reason; "" when served
	}{
		{"served", []*builds.WorkerInfo{noPungi, full}, "41", tasks.KindDVD, ""},
		{"tool missing", []*builds.WorkerInfo{noPungi}, "41", tasks.KindDVD, "no live worker of build:x86_64:41 can run dvd builds (nopungi: pungi not found in PATH)"},
		{"kind not advertised", []*builds.WorkerInfo{noPungi}, "41", tasks.KindBoot, "nopungi: does not know boot builds"},
		{"other kind served", []*builds.WorkerInfo{noPungi}, "41", tasks.KindKSISO, ""},
		{"older worker", []*builds.WorkerInfo{old}, "41", tasks.KindLiveCD, ""},
		{"only draining", []*builds.WorkerInfo{draining}, "41", tasks.KindKSISO, "no live worker serves x86_64 for Fedora 41 (queue build:x86_64:41; draining draining)"},
		{"only low on space", []*builds.WorkerInfo{low, draining}, "41", tasks.KindKSISO,
			"no live worker serves x86_64 for Fedora 41 (queue build:x86_64:41; low paused: data dir low on space (1.0 GiB free, min_free 2.0 GiB); draining draining)"},
		{"low on space and served", []*builds.WorkerInfo{low, full}, "41", tasks.KindKSISO, ""},
		{"no worker of the release", []*builds.WorkerInfo{full}, "42", tasks.KindKSISO, "no live worker serves x86_64 for Fedora 42 (queue build:x86_64:42)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := builds.Unserved(tc.ws, "x86_64", tc.release, tc.kind)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Unserved = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestWorkerState(t *testing.T) {
	t.Parallel()
	const low = "data dir low on space (1.0 GiB free, min_free 2.0 GiB)"
	for _, tc := range []struct {
		w    builds.WorkerInfo
		want string
	}{
		{builds.WorkerInfo{}, "running"},
		{builds.WorkerInfo{Draining: true, Paused: true}, "draining"},
		{builds.WorkerInfo{Paused: true}, "paused"},
		{builds.WorkerInfo{Paused: true, LowSpace: low}, "paused; " + low},
		{builds.WorkerInfo{LowSpace: low}, "paused: " + low},
	} {
		if got := tc.w.State(); got != tc.want {
			t.Errorf("State of %+v = %q; want %q", tc.w, got, tc.want)
		}
	}
}
