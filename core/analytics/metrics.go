package analytics

// Internal metric names: the `metric` column of the rollup tables. Each is
// one kind of fact produced by collect.
const (
	mOpened           = "conversations_opened"
	mResolved         = "conversations_resolved"
	mOpenDelta        = "open_delta"
	mIn               = "messages_in"
	mOut              = "messages_out"
	mFirstResponse    = "first_response"
	mReply            = "reply"
	mResolution       = "resolution"
	mAIAnswers        = "ai_answers"
	mAIDrafts         = "ai_drafts"
	mAIApproved       = "ai_approved"
	mAIEdited         = "ai_edited"
	mAIDiscarded      = "ai_discarded"
	mAIHandoffs       = "ai_handoffs"
	mKBRefusals       = "kb_refusals"
	mResolvedNoPerson = "resolved_without_person"
	mSentiment        = "sentiment"
	mReviews          = "reviews"
	mPostsPublished   = "posts_published"
	mPostsFailed      = "posts_failed"
)

// timed are the metrics whose facts are durations in seconds, counted per
// logarithmic bucket in AnalyticsHistogram for percentiles (sketch.go).
var timed = map[string]bool{mFirstResponse: true, mReply: true, mResolution: true}

// timedMetrics lists timed.
var timedMetrics = []string{mFirstResponse, mReply, mResolution}

// Metric is a figure callers ask for (the GraphQL AnalyticsMetric enum).
type Metric string

// Agg says how a metric's facts make a figure.
type Agg int

const (
	// AggCount adds the facts' counts.
	AggCount Agg = iota
	// AggAverage divides the facts' sum by their count (times in seconds,
	// ratings).
	AggAverage
	// AggAverageMicro is AggAverage of values stored in millionths
	// (sentiment scores).
	AggAverageMicro
	// AggOpen is the running total of opened minus resolved plus reopened
	// conversations at the end of the period.
	AggOpen
)

// Dim names what a fact's dimension holds.
type Dim string

// Dimensions of facts.
const (
	DimNone      Dim = ""
	DimMember    Dim = "MEMBER"
	DimReason    Dim = "REASON"
	DimSentiment Dim = "SENTIMENT"
	DimRating    Dim = "RATING"
)

// MetricDef defines a metric: adding one is one entry here (and, for a
// new kind of fact, one emit in collect).
type MetricDef struct {
	Name Metric
	// Fact is the internal metric its facts carry.
	Fact string
	// Kind restricts the facts to one conversation kind (REVIEW).
	Kind string
	Agg  Agg
	// Dim is what the facts' dimension means, if anything.
	Dim Dim
}

// Timed reports whether the metric is a time in seconds.
func (d MetricDef) Timed() bool { return timed[d.Fact] }

// Metrics are every metric, in the order exports list them.
var Metrics = []MetricDef{
	{Name: "CONVERSATIONS_OPENED", Fact: mOpened, Agg: AggCount},
	{Name: "CONVERSATIONS_RESOLVED", Fact: mResolved, Agg: AggCount, Dim: DimMember},
	{Name: "CONVERSATIONS_OPEN", Fact: mOpenDelta, Agg: AggOpen},
	{Name: "MESSAGES_IN", Fact: mIn, Agg: AggCount},
	{Name: "MESSAGES_OUT", Fact: mOut, Agg: AggCount, Dim: DimMember},
	{Name: "FIRST_RESPONSES", Fact: mFirstResponse, Agg: AggCount, Dim: DimMember},
	{Name: "FIRST_RESPONSE_TIME", Fact: mFirstResponse, Agg: AggAverage, Dim: DimMember},
	{Name: "REPLIES", Fact: mReply, Agg: AggCount, Dim: DimMember},
	{Name: "REPLY_TIME", Fact: mReply, Agg: AggAverage, Dim: DimMember},
	{Name: "RESOLUTION_TIME", Fact: mResolution, Agg: AggAverage, Dim: DimMember},
	{Name: "AI_ANSWERS_SENT", Fact: mAIAnswers, Agg: AggCount},
	{Name: "AI_DRAFTS_CREATED", Fact: mAIDrafts, Agg: AggCount},
	{Name: "AI_DRAFTS_APPROVED", Fact: mAIApproved, Agg: AggCount},
	{Name: "AI_DRAFTS_EDITED", Fact: mAIEdited, Agg: AggCount},
	{Name: "AI_DRAFTS_DISCARDED", Fact: mAIDiscarded, Agg: AggCount},
	{Name: "AI_HANDOFFS", Fact: mAIHandoffs, Agg: AggCount, Dim: DimReason},
	{Name: "KNOWLEDGE_BASE_REFUSALS", Fact: mKBRefusals, Agg: AggCount},
	{Name: "RESOLVED_WITHOUT_PERSON", Fact: mResolvedNoPerson, Agg: AggCount},
	{Name: "SENTIMENT_MESSAGES", Fact: mSentiment, Agg: AggCount, Dim: DimSentiment},
	{Name: "SENTIMENT_AVERAGE", Fact: mSentiment, Agg: AggAverageMicro, Dim: DimSentiment},
	{Name: "REVIEWS", Fact: mReviews, Agg: AggCount, Dim: DimRating},
	{Name: "REVIEW_RATING", Fact: mReviews, Agg: AggAverage, Dim: DimRating},
	{Name: "REVIEWS_REPLIED", Fact: mFirstResponse, Kind: "REVIEW", Agg: AggCount, Dim: DimMember},
	{Name: "REVIEW_REPLY_TIME", Fact: mFirstResponse, Kind: "REVIEW", Agg: AggAverage, Dim: DimMember},
	{Name: "POSTS_PUBLISHED", Fact: mPostsPublished, Agg: AggCount},
	{Name: "POSTS_FAILED", Fact: mPostsFailed, Agg: AggCount},
}

// Lookup finds a metric by name.
func Lookup(name Metric) (MetricDef, bool) {
	for _, d := range Metrics {
		if d.Name == name {
			return d, true
		}
	}
	return MetricDef{}, false
}

// Handoff reason categories: the agent's reasons carry numbers and words
// of the message, so they are grouped by what they mean.
const (
	ReasonHumanRequested    = "HUMAN_REQUESTED"
	ReasonNegativeSentiment = "NEGATIVE_SENTIMENT"
	ReasonWindowClosed      = "WINDOW_CLOSED"
	ReasonAttachment        = "ATTACHMENT"
	ReasonNoAnswer          = "NO_ANSWER"
	ReasonLowConfidence     = "LOW_CONFIDENCE"
	ReasonPartialAnswer     = "PARTIAL_ANSWER"
	ReasonSendFailed        = "SEND_FAILED"
	ReasonOther             = "OTHER"
)
