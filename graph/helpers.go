package graph

import (
	"encoding/json"
	"fmt"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/publish"
	"github.com/neksio/neksio/graph/model"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func mediaInputs(in []*model.PostMediaInput) []publish.MediaInput {
	out := make([]publish.MediaInput, len(in))
	for i, m := range in {
		out[i] = publish.MediaInput{MediaID: deref(m.MediaID), URL: deref(m.URL)}
	}
	return out
}

// targetInputs turns GraphQL targets into core inputs; option values
// must be strings, numbers or booleans.
func targetInputs(in []*model.PostTargetInput) ([]publish.TargetInput, error) {
	out := make([]publish.TargetInput, len(in))
	for i, t := range in {
		opts := map[string]string{}
		for k, v := range t.Options {
			switch x := v.(type) {
			case string:
				opts[k] = x
			case bool, int, int64, float64, json.Number:
				opts[k] = fmt.Sprint(x)
			default:
				return nil, apperr.Invalid(fmt.Sprintf("targets[%d].options.%s", i, k), "an option's value is a string, number or boolean")
			}
		}
		out[i] = publish.TargetInput{ChannelID: t.ChannelID, Text: t.Text, Options: opts}
	}
	return out, nil
}
