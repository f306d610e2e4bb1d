package model

import (
	"time"

	"github.com/neksio/neksio/core/analytics"
)

// Analytics is the answer of the analytics query: a validated report whose
// parts resolve on demand (graph/analytics.resolvers.go).
type Analytics struct {
	From     time.Time
	To       time.Time
	Timezone string
	Report   *analytics.Report
}
