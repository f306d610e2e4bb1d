package testenv

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// NormalizedResponse is a GraphQL answer as its data, a newline and its
// errors sorted one per line: fields resolved concurrently add their
// errors in the order they finish, so two answers to the same operation
// compare equal only after this.
func NormalizedResponse(body []byte) (string, error) {
	var r struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("testenv: not a GraphQL answer: %w: %s", err, body)
	}
	errs := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		errs[i] = string(e)
	}
	sort.Strings(errs)
	return string(r.Data) + "\n" + strings.Join(errs, "\n"), nil
}
