package agent

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // business hours need zones on hosts without a zoneinfo database
	"unicode/utf8"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/audit"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/ent/schema/schematype"
)

// Defaults of the workspace settings.
const (
	DefaultNegativeSentimentThreshold = -0.6
	DefaultTimezone                   = "UTC"
)

// Limits of the settings.
const (
	MaxHandoffKeywords = 50
	MaxKeywordChars    = 100
	MaxWindows         = 50
	MaxAwayChars       = 1000
	MaxHandoffChars    = 1000
	MaxToneChars       = 500
	MaxSignatureChars  = 200
)

// Settings are a workspace's agent rules.
type Settings struct {
	ConfidenceThreshold        float64
	NegativeSentimentThreshold float64
	HandoffKeywords            []string
	Timezone                   string
	BusinessHours              []schematype.BusinessHoursWindow
	AwayMessage                string
	// HandoffMessage is sent to a customer in a direct conversation when the
	// agent hands it to a person; empty sends nothing.
	HandoffMessage string
	Tone           string
	Signature      string
	// ReviewPolicy says what the agent does with reviews, by stars.
	ReviewPolicy schematype.ReviewPolicy
}

// DefaultSettings apply until a workspace changes them.
func DefaultSettings() Settings {
	return Settings{
		ConfidenceThreshold:        ai.DefaultConfidenceThreshold,
		NegativeSentimentThreshold: DefaultNegativeSentimentThreshold,
		Timezone:                   DefaultTimezone,
	}
}

func settingsOf(e *ent.AgentSettings) Settings {
	return Settings{
		ConfidenceThreshold:        e.ConfidenceThreshold,
		NegativeSentimentThreshold: e.NegativeSentimentThreshold,
		HandoffKeywords:            e.HandoffKeywords,
		Timezone:                   e.Timezone,
		BusinessHours:              e.BusinessHours,
		AwayMessage:                e.AwayMessage,
		HandoffMessage:             e.HandoffMessage,
		Tone:                       e.Tone,
		Signature:                  e.Signature,
		ReviewPolicy:               e.ReviewPolicy,
	}
}

// Settings returns the viewer's workspace settings, or the defaults when
// none were saved.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	e, err := s.Store.Ent.AgentSettings.Query().Only(ctx)
	if ent.IsNotFound(err) {
		return DefaultSettings(), nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("agent: loading settings: %w", err)
	}
	return settingsOf(e), nil
}

// SettingsRow returns the workspace's settings row, creating it with the
// defaults on first use. Admins only.
func (s *Service) SettingsRow(ctx context.Context) (*ent.AgentSettings, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	var out *ent.AgentSettings
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = getOrCreate(ctx, tx)
		return err
	})
	return out, err
}

func getOrCreate(ctx context.Context, tx *store.Tx) (*ent.AgentSettings, error) {
	e, err := tx.Ent.AgentSettings.Query().Only(ctx)
	if err == nil {
		return e, nil
	}
	if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("agent: loading settings: %w", err)
	}
	d := DefaultSettings()
	e, err = tx.Ent.AgentSettings.Create().
		SetWorkspaceID(pulid.ID(tenant.FromContext(ctx).WorkspaceID)).
		SetConfidenceThreshold(d.ConfidenceThreshold).
		SetNegativeSentimentThreshold(d.NegativeSentimentThreshold).
		SetTimezone(d.Timezone).
		SetHandoffKeywords([]string{}).
		SetBusinessHours([]schematype.BusinessHoursWindow{}).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent: creating settings: %w", err)
	}
	return e, nil
}

// SettingsUpdate changes settings; nil fields stay, non-nil slices replace.
type SettingsUpdate struct {
	ConfidenceThreshold        *float64
	NegativeSentimentThreshold *float64
	HandoffKeywords            []string
	SetHandoffKeywords         bool
	Timezone                   *string
	BusinessHours              []schematype.BusinessHoursWindow
	SetBusinessHours           bool
	AwayMessage                *string
	HandoffMessage             *string
	Tone                       *string
	Signature                  *string
	// ReviewPolicy changes the modes it sets; nil fields keep theirs.
	ReviewPolicy *ReviewPolicyUpdate
}

// ReviewPolicyUpdate sets the review policy's mode of some star ratings.
type ReviewPolicyUpdate struct {
	OneStar, TwoStars, ThreeStars, FourStars, FiveStars *schematype.ReviewMode
}

// apply returns p with u's modes, refusing AUTO for 1- and 2-star reviews:
// an unhappy customer's public review is answered by a person.
func (u *ReviewPolicyUpdate) apply(p schematype.ReviewPolicy) (schematype.ReviewPolicy, error) {
	for _, f := range []struct {
		name  string
		stars int
		v     *schematype.ReviewMode
		dst   *schematype.ReviewMode
	}{{"oneStar", 1, u.OneStar, &p.OneStar}, {"twoStars", 2, u.TwoStars, &p.TwoStars}, {"threeStars", 3, u.ThreeStars, &p.ThreeStars},
		{"fourStars", 4, u.FourStars, &p.FourStars}, {"fiveStars", 5, u.FiveStars, &p.FiveStars}} {
		if f.v == nil {
			continue
		}
		m := schematype.ReviewMode(strings.ToUpper(strings.TrimSpace(string(*f.v))))
		if m == "" || !m.Valid() {
			return p, apperr.Invalid("reviewPolicy", "reviewPolicy.%s: unknown mode %q (AUTO, DRAFT or OFF)", f.name, *f.v)
		}
		if m == schematype.ReviewAuto && f.stars <= 2 {
			return p, apperr.Invalid("reviewPolicy", "reviewPolicy.%s cannot be AUTO: 1- and 2-star reviews are handed to a person (DRAFT adds a draft for them, OFF leaves them alone)", f.name)
		}
		*f.dst = m
	}
	return p, nil
}

var days = map[string]time.Weekday{
	"SUNDAY": time.Sunday, "MONDAY": time.Monday, "TUESDAY": time.Tuesday, "WEDNESDAY": time.Wednesday,
	"THURSDAY": time.Thursday, "FRIDAY": time.Friday, "SATURDAY": time.Saturday,
}

var clock = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$|^24:00$`)

func minutes(hhmm string) int {
	h, _ := strconv.Atoi(hhmm[:2])
	m, _ := strconv.Atoi(hhmm[3:])
	return h*60 + m
}

func checkText(field, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	if utf8.RuneCountInString(v) > max {
		return "", apperr.Invalid(field, "%s is longer than %d characters", field, max)
	}
	return v, nil
}

// UpdateSettings changes the workspace's agent settings. Admins only;
// audited.
func (s *Service) UpdateSettings(ctx context.Context, in SettingsUpdate) (*ent.AgentSettings, error) {
	if _, err := tenant.Require(ctx, tenant.RoleAdmin); err != nil {
		return nil, err
	}
	changed := map[string]string{}
	if in.ConfidenceThreshold != nil {
		if c := *in.ConfidenceThreshold; c < 0 || c > 1 {
			return nil, apperr.Invalid("confidenceThreshold", "confidenceThreshold must be between 0 and 1")
		}
		changed["confidenceThreshold"] = strconv.FormatFloat(*in.ConfidenceThreshold, 'f', -1, 64)
	}
	if in.NegativeSentimentThreshold != nil {
		if c := *in.NegativeSentimentThreshold; c < -1 || c > 0 {
			return nil, apperr.Invalid("negativeSentimentThreshold", "negativeSentimentThreshold must be between -1 and 0")
		}
		changed["negativeSentimentThreshold"] = strconv.FormatFloat(*in.NegativeSentimentThreshold, 'f', -1, 64)
	}
	var keywords []string
	if in.SetHandoffKeywords {
		if len(in.HandoffKeywords) > MaxHandoffKeywords {
			return nil, apperr.Invalid("handoffKeywords", "at most %d handoff keywords", MaxHandoffKeywords)
		}
		keywords = []string{}
		for _, k := range in.HandoffKeywords {
			k = strings.TrimSpace(k)
			if k == "" || utf8.RuneCountInString(k) > MaxKeywordChars {
				return nil, apperr.Invalid("handoffKeywords", "handoff keywords must be 1 to %d characters", MaxKeywordChars)
			}
			keywords = append(keywords, k)
		}
		changed["handoffKeywords"] = strconv.Itoa(len(keywords))
	}
	if in.Timezone != nil {
		if _, err := time.LoadLocation(strings.TrimSpace(*in.Timezone)); err != nil || strings.TrimSpace(*in.Timezone) == "" {
			return nil, apperr.Invalid("timezone", "unknown time zone %q (use an IANA name such as Europe/London)", *in.Timezone)
		}
		changed["timezone"] = strings.TrimSpace(*in.Timezone)
	}
	var windows []schematype.BusinessHoursWindow
	if in.SetBusinessHours {
		if len(in.BusinessHours) > MaxWindows {
			return nil, apperr.Invalid("businessHours", "at most %d business-hours windows", MaxWindows)
		}
		windows = []schematype.BusinessHoursWindow{}
		for _, w := range in.BusinessHours {
			w.Day = strings.ToUpper(strings.TrimSpace(w.Day))
			if _, ok := days[w.Day]; !ok {
				return nil, apperr.Invalid("businessHours", "unknown day %q (want MONDAY ... SUNDAY)", w.Day)
			}
			if !clock.MatchString(w.Start) || !clock.MatchString(w.End) || minutes(w.End) <= minutes(w.Start) {
				return nil, apperr.Invalid("businessHours", "window %s %s-%s: times are HH:MM and end must be after start", w.Day, w.Start, w.End)
			}
			windows = append(windows, w)
		}
		changed["businessHours"] = strconv.Itoa(len(windows))
	}
	texts := map[string]*string{}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"awayMessage", in.AwayMessage, MaxAwayChars}, {"handoffMessage", in.HandoffMessage, MaxHandoffChars},
		{"tone", in.Tone, MaxToneChars}, {"signature", in.Signature, MaxSignatureChars}} {
		if f.v == nil {
			continue
		}
		v, err := checkText(f.name, *f.v, f.max)
		if err != nil {
			return nil, err
		}
		texts[f.name] = &v
		changed[f.name] = "set"
	}
	if in.ReviewPolicy != nil {
		// Checked before the transaction: a bad mode changes nothing.
		if _, err := in.ReviewPolicy.apply(schematype.ReviewPolicy{}); err != nil {
			return nil, err
		}
		changed["reviewPolicy"] = "set"
	}
	var out *ent.AgentSettings
	err := s.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, err := getOrCreate(ctx, tx)
		if err != nil {
			return err
		}
		u := tx.Ent.AgentSettings.UpdateOneID(cur.ID)
		if in.ReviewPolicy != nil {
			p, err := in.ReviewPolicy.apply(cur.ReviewPolicy)
			if err != nil {
				return err
			}
			u.SetReviewPolicy(p)
		}
		if in.ConfidenceThreshold != nil {
			u.SetConfidenceThreshold(*in.ConfidenceThreshold)
		}
		if in.NegativeSentimentThreshold != nil {
			u.SetNegativeSentimentThreshold(*in.NegativeSentimentThreshold)
		}
		if in.SetHandoffKeywords {
			u.SetHandoffKeywords(keywords)
		}
		if in.Timezone != nil {
			u.SetTimezone(strings.TrimSpace(*in.Timezone))
		}
		if in.SetBusinessHours {
			u.SetBusinessHours(windows)
		}
		if v := texts["awayMessage"]; v != nil {
			u.SetAwayMessage(*v)
		}
		if v := texts["handoffMessage"]; v != nil {
			u.SetHandoffMessage(*v)
		}
		if v := texts["tone"]; v != nil {
			u.SetTone(*v)
		}
		if v := texts["signature"]; v != nil {
			u.SetSignature(*v)
		}
		if out, err = u.Save(ctx); err != nil {
			return fmt.Errorf("agent: updating settings: %w", err)
		}
		return audit.Record(ctx, tx.Ent, "agent.settings.update", "AgentSettings", string(out.ID), changed)
	})
	return out, err
}

// InHours reports whether t falls in the business hours. No windows means
// always open; an unknown zone falls back to UTC.
func (set Settings) InHours(t time.Time) bool {
	if len(set.BusinessHours) == 0 {
		return true
	}
	loc, err := time.LoadLocation(set.Timezone)
	if err != nil || set.Timezone == "" {
		loc = time.UTC
	}
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	for _, w := range set.BusinessHours {
		d, ok := days[strings.ToUpper(w.Day)]
		if !ok || d != lt.Weekday() || !clock.MatchString(w.Start) || !clock.MatchString(w.End) {
			continue
		}
		if m >= minutes(w.Start) && m < minutes(w.End) {
			return true
		}
	}
	return false
}
