package analytics

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/schematype"
)

// businessHours are the workspace's weekly opening windows (the agent
// settings), in its time zone. None means always open.
type businessHours struct {
	loc  *time.Location
	days map[time.Weekday][][2]int // minutes since midnight, [start, end)
}

var weekdays = map[string]time.Weekday{
	"MONDAY": time.Monday, "TUESDAY": time.Tuesday, "WEDNESDAY": time.Wednesday, "THURSDAY": time.Thursday,
	"FRIDAY": time.Friday, "SATURDAY": time.Saturday, "SUNDAY": time.Sunday,
}

func clockMinutes(hhmm string) (int, bool) {
	h, m, ok := strings.Cut(hhmm, ":")
	if !ok {
		return 0, false
	}
	hi, err1 := strconv.Atoi(h)
	mi, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hi < 0 || mi < 0 || mi > 59 || hi*60+mi > 24*60 {
		return 0, false
	}
	return hi*60 + mi, true
}

func newBusinessHours(tz string, windows []schematype.BusinessHoursWindow) businessHours {
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		loc = time.UTC
	}
	bh := businessHours{loc: loc}
	for _, w := range windows {
		d, ok := weekdays[strings.ToUpper(w.Day)]
		s, ok1 := clockMinutes(w.Start)
		e, ok2 := clockMinutes(w.End)
		if !ok || !ok1 || !ok2 || e <= s {
			continue
		}
		if bh.days == nil {
			bh.days = map[time.Weekday][][2]int{}
		}
		bh.days[d] = append(bh.days[d], [2]int{s, e})
	}
	return bh
}

// loadBusinessHours reads the workspace's hours (client is bound to it).
func loadBusinessHours(ctx context.Context, client *ent.Client) (businessHours, error) {
	set, err := client.AgentSettings.Query().Only(ctx)
	if ent.IsNotFound(err) {
		return newBusinessHours("UTC", nil), nil
	}
	if err != nil {
		return businessHours{}, fmt.Errorf("analytics: business hours: %w", err)
	}
	return newBusinessHours(set.Timezone, set.BusinessHours), nil
}

// seconds is how much of [from, to) falls within business hours: all of
// it without windows. Windows are wall-clock times of each day, so a day
// of a daylight-saving change counts its real length.
func (bh businessHours) seconds(from, to time.Time) int64 {
	if !to.After(from) {
		return 0
	}
	if bh.days == nil {
		return seconds(from, to)
	}
	var total time.Duration
	lf := from.In(bh.loc)
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, bh.loc)
	for !day.After(to) {
		for _, w := range bh.days[day.Weekday()] {
			ws := time.Date(day.Year(), day.Month(), day.Day(), 0, w[0], 0, 0, bh.loc)
			we := time.Date(day.Year(), day.Month(), day.Day(), 0, w[1], 0, 0, bh.loc)
			s, e := maxTime(ws, from), minTime(we, to)
			if e.After(s) {
				total += e.Sub(s)
			}
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, bh.loc)
	}
	return int64(total / time.Second)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
