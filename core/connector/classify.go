package connector

import (
	"errors"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/plugins/sdk"
)

// Classify translates a connector's failure into core's classification,
// in this one place: a retryable one (sdk.ClassRetryable, or a failure the
// connector did not classify, which sdk.ClassOf counts as retryable)
// becomes apperr.Retry with the platform's Retry-After; any other class is
// returned as it is (the service records it rather than return it to a
// worker). The *sdk.Error stays in the chain: errors.As and sdk.ClassOf
// still see it. Classify(nil) is nil.
func Classify(err error) error {
	if err == nil || sdk.ClassOf(err) != sdk.ClassRetryable {
		return err
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return apperr.Retry(err, se.RetryAfter)
	}
	return apperr.Retry(err, 0)
}
