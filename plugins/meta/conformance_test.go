package meta_test

import (
	"testing"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, meta.New())
}
