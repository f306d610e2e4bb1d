package schematype

import "github.com/neksio/neksio/ent/schema/pulid"

// Citation is a knowledge-base passage an answer used.
type Citation struct {
	DocumentID pulid.ID `json:"documentId"`
	ChunkID    pulid.ID `json:"chunkId"`
	Title      string   `json:"title"`
	// Snippet is the start of the passage, for people checking an answer.
	Snippet string `json:"snippet"`
}

// BusinessHoursWindow is one weekly opening window in the workspace's time
// zone: Day is MONDAY..SUNDAY, Start and End are "HH:MM" (24h, End after
// Start; "24:00" ends at midnight).
type BusinessHoursWindow struct {
	Day   string `json:"day"`
	Start string `json:"start"`
	End   string `json:"end"`
}
