package publish

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/post"
)

// MaxCalendarRange bounds one calendar query.
const MaxCalendarRange = 93 * 24 * time.Hour

// MaxCalendarPosts bounds what one calendar query returns.
const MaxCalendarPosts = 2000

// CalendarEntry places a post on the calendar.
type CalendarEntry struct {
	// Date is the day in the requested time zone (YYYY-MM-DD).
	Date string
	// At is the time, in the requested time zone.
	At time.Time
	// Kind is SCHEDULED or PUBLISHED: which time placed the post.
	Kind string
	Post *ent.Post
}

// published are the states whose post is placed by its published time.
var published = []post.Status{post.StatusPublished, post.StatusPartiallyPublished}

// Calendar lists the posts scheduled or published in [from, to), in the
// IANA time zone tz ("" is UTC), by time.
func (s *Service) Calendar(ctx context.Context, from, to time.Time, tz string) ([]CalendarEntry, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAnalyst); err != nil {
		return nil, err
	}
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, apperr.Invalid("timezone", "unknown time zone %q: use an IANA name such as Europe/Paris", tz)
	}
	if !to.After(from) {
		return nil, apperr.Invalid("to", "to must be after from")
	}
	if to.Sub(from) > MaxCalendarRange {
		return nil, apperr.Invalid("to", "a calendar spans at most %d days", int(MaxCalendarRange/(24*time.Hour)))
	}
	posts, err := s.Store.Ent.Post.Query().Where(post.Or(
		post.And(post.StatusIn(published...), post.PublishedAtGTE(from), post.PublishedAtLT(to)),
		post.And(post.StatusNotIn(published...), post.ScheduledAtGTE(from), post.ScheduledAtLT(to)),
	)).Limit(MaxCalendarPosts).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("publish: calendar: %w", err)
	}
	out := make([]CalendarEntry, 0, len(posts))
	for _, p := range posts {
		e := CalendarEntry{Post: p, Kind: "SCHEDULED"}
		if contains(published, p.Status) && p.PublishedAt != nil {
			e.Kind, e.At = "PUBLISHED", p.PublishedAt.In(loc)
		} else if p.ScheduledAt != nil {
			e.At = p.ScheduledAt.In(loc)
		} else {
			continue
		}
		e.Date = e.At.Format(time.DateOnly)
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}
