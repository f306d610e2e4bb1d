package schematype

import (
	"fmt"
	"io"
	"strconv"
)

// MarshalGQL writes the mode as a GraphQL enum value; a mode never set is
// DRAFT (rows saved before the review policy existed).
func (m ReviewMode) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(m.OrDefault())))
}

// UnmarshalGQL reads an enum value.
func (m *ReviewMode) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("ReviewMode must be a string")
	}
	*m = ReviewMode(s)
	if !m.Valid() || s == "" {
		return fmt.Errorf("%q is not a valid ReviewMode (AUTO, DRAFT or OFF)", s)
	}
	return nil
}
