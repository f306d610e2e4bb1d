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

// ReviewMode is what the agent does with a review of some star rating:
// AUTO answers it, DRAFT drafts an answer for a person, OFF stays out.
type ReviewMode string

// Review modes; an empty mode is DRAFT, the default for every rating.
const (
	ReviewAuto  ReviewMode = "AUTO"
	ReviewDraft ReviewMode = "DRAFT"
	ReviewOff   ReviewMode = "OFF"
)

// OrDefault is m, or DRAFT when it was never set.
func (m ReviewMode) OrDefault() ReviewMode {
	if m == "" {
		return ReviewDraft
	}
	return m
}

// Valid reports whether m is a known mode (empty counts: it is DRAFT).
func (m ReviewMode) Valid() bool {
	switch m {
	case "", ReviewAuto, ReviewDraft, ReviewOff:
		return true
	}
	return false
}

// ReviewPolicy is a workspace's review policy: a mode per star rating.
// 1- and 2-star reviews are never answered on their own: a person does.
type ReviewPolicy struct {
	OneStar    ReviewMode `json:"oneStar,omitempty"`
	TwoStars   ReviewMode `json:"twoStars,omitempty"`
	ThreeStars ReviewMode `json:"threeStars,omitempty"`
	FourStars  ReviewMode `json:"fourStars,omitempty"`
	FiveStars  ReviewMode `json:"fiveStars,omitempty"`
}

// For returns the mode for a review of stars (1-5). A review without a
// rating (0) takes the 3-star mode, but never AUTO.
func (p ReviewPolicy) For(stars int) ReviewMode {
	switch stars {
	case 1:
		return p.OneStar.OrDefault()
	case 2:
		return p.TwoStars.OrDefault()
	case 4:
		return p.FourStars.OrDefault()
	case 5:
		return p.FiveStars.OrDefault()
	case 3:
		return p.ThreeStars.OrDefault()
	}
	if m := p.ThreeStars.OrDefault(); m != ReviewAuto {
		return m
	}
	return ReviewDraft
}
