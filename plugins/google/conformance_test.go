package google_test

import (
	"testing"

	"github.com/neksio/neksio/plugins/google"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, google.New())
}
