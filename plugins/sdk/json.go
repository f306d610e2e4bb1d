package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// FlexString is a JSON field that platforms send as a string in some
// payloads and as a number in others (ids, timestamps). A number keeps its
// exact text, so ids too large for a float64 survive; null reads as empty;
// an object, an array or a boolean is an error.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("expected a string or a number, got %.20s", b)
		}
		*f = FlexString(n.String())
	}
	return nil
}
