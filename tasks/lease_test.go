package tasks_test

import (
	"testing"

	"github.com/fedora-fbs/fbs/tasks"
)

func TestParseLostPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    tasks.LostPolicy
		wantErr string
	}{
		{"requeue", tasks.LostRequeue, ""},
		{"fail", tasks.LostFail, ""},
		{"retry", 0, `"retry" is not one of requeue, fail`},
		{"", 0, `"" is not one of requeue, fail`},
		{"Fail", 0, `"Fail" is not one of requeue, fail`},
	}
	for _, tt := range tests {
		got, err := tasks.ParseLostPolicy(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseLostPolicy(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLostPolicy(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}
