package ent

// Contacts and API keys are among the possible authors of a message
// (the GraphQL union Author, schema/team.graphqls). Written by hand: ent's
// code generator leaves this file alone.

// IsAuthor marks Contact as a member of the Author union.
func (*Contact) IsAuthor() {}

// IsAuthor marks APIKey as a member of the Author union.
func (*APIKey) IsAuthor() {}
