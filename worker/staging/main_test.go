package staging

import (
	"testing"

	"go.uber.org/goleak"
)

// Every connection a stager opens must be closed with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
