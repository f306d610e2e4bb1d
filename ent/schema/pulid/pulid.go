// Package pulid implements Neksio's opaque typed IDs: a short type prefix,
// an underscore and a ULID ("cv_01JD3V..."). The ULID sorts by creation
// time and carries 80 random bits, so IDs are sortable but not guessable;
// the prefix lets node(id:) find the right table without a lookup.
package pulid

import (
	"crypto/rand"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/oklog/ulid/v2"
)

// ID is a prefixed ULID.
type ID string

var (
	entropyMu sync.Mutex
	entropy   = ulid.Monotonic(rand.Reader, 0)
)

// New returns a fresh ID with the given prefix (without the underscore).
func New(prefix string) ID {
	entropyMu.Lock()
	u := ulid.MustNew(ulid.Timestamp(time.Now()), entropy)
	entropyMu.Unlock()
	return ID(prefix + "_" + u.String())
}

// Prefix returns the type prefix of id, or "" when id is not well formed.
func (id ID) Prefix() string {
	p, rest, ok := strings.Cut(string(id), "_")
	if !ok || p == "" || len(rest) != ulid.EncodedSize {
		return ""
	}
	if _, err := ulid.ParseStrict(rest); err != nil {
		return ""
	}
	return p
}

// Valid reports whether id is a well-formed prefixed ULID.
func (id ID) Valid() bool { return id.Prefix() != "" }

func (id ID) String() string { return string(id) }

// UnmarshalGQL implements graphql.Unmarshaler.
func (id *ID) UnmarshalGQL(v any) error { return id.Scan(v) }

// MarshalGQL implements graphql.Marshaler: the ID as a JSON string. An
// ID of printable ASCII without quotes or backslashes (every ID Neksio
// makes) is written between quotes as it is, without the copy
// strconv.Quote would allocate (one per ID in every answer); any other
// goes through strconv.Quote, as before.
func (id ID) MarshalGQL(w io.Writer) {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			_, _ = io.WriteString(w, strconv.Quote(string(id)))
			return
		}
	}
	_, _ = io.WriteString(w, `"`)
	_, _ = io.WriteString(w, string(id))
	_, _ = io.WriteString(w, `"`)
}

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch src := src.(type) {
	case string:
		*id = ID(src)
	case []byte:
		*id = ID(src)
	case ID:
		*id = src
	case nil:
		return fmt.Errorf("pulid: expected a value")
	default:
		return fmt.Errorf("pulid: unexpected type %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }

// Mixin gives a schema a prefixed ID.
type Mixin struct {
	mixin.Schema
	prefix string
}

// MixinWithPrefix returns the ID mixin for a type prefix.
func MixinWithPrefix(prefix string) Mixin { return Mixin{prefix: prefix} }

// Fields provides the id field.
func (m Mixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			GoType(ID("")).
			Immutable().
			DefaultFunc(func() ID { return New(m.prefix) }),
	}
}

// Annotation records a type's prefix for the generated prefix map.
type Annotation struct{ Prefix string }

// Name implements schema.Annotation.
func (Annotation) Name() string { return "PULID" }

// Annotations returns the prefix annotation.
func (m Mixin) Annotations() []schema.Annotation {
	return []schema.Annotation{Annotation{Prefix: m.prefix}}
}
