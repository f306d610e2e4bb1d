package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// KeyFingerprint records which key sealed the database's secrets: an HMAC
// of a fixed label under the key, never the key. A server whose key gives
// another fingerprint refuses to start instead of failing every decrypt
// (core/secret). Platform-level: no workspace owns it.
type KeyFingerprint struct{ ent.Schema }

// Fields of the KeyFingerprint.
func (KeyFingerprint) Fields() []ent.Field {
	return []ent.Field{
		// name says which key ("master").
		field.String("name").NotEmpty().Unique().Immutable(),
		field.String("fingerprint").NotEmpty().Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Annotations of the KeyFingerprint: not part of the API.
func (KeyFingerprint) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the KeyFingerprint: the platform only.
func (KeyFingerprint) Policy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowPlatform(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{allowPlatform(), privacy.AlwaysDenyRule()},
	}
}
