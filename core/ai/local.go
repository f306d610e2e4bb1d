package ai

// LocalSentiment is the optional capability of a provider whose Sentiment
// runs in process: deterministic, no I/O, no retries, microseconds (the
// built-in lexicon model). Such a score may be taken inside the database
// transaction that stores the text: core/sentiment scores a new inbound
// message as it is ingested instead of queueing a job for it. A provider
// that calls a model over the network must not implement it: a slow or
// failing call would hold the ingest's transaction and row locks, and its
// retries belong to the job layer.
type LocalSentiment interface {
	// SentimentScorer returns the in-process scorer, or nil when the
	// provider cannot promise one for every caller (a Chooser that may
	// choose an external provider for a workspace that allows it).
	SentimentScorer() func(text string) Sentiment
}

// SentimentScorer is p's in-process sentiment scorer (see
// LocalSentiment), or nil when p has none: its callers score in a job.
func SentimentScorer(p Provider) func(text string) Sentiment {
	if l, ok := p.(LocalSentiment); ok {
		return l.SentimentScorer()
	}
	return nil
}

// SentimentScorer implements LocalSentiment: the built-in provider's
// scorer when no external provider is configured, so every workspace
// gets the built-in one; nil otherwise, because which provider a
// workspace gets is decided by its consent, read per operation (For).
func (c *Chooser) SentimentScorer() func(text string) Sentiment {
	if c.External != nil {
		return nil
	}
	return SentimentScorer(c.Builtin)
}
