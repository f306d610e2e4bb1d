package agent_test

import (
	"fmt"

	"github.com/neksio/neksio/core/agent"
	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/knowledge"
)

// Decide is the agent's whole reply policy, a pure function of the
// workspace's settings and the facts of one message: the cheap checks come
// first, retrieval only when they pass.
func ExampleDecide() {
	set := agent.DefaultSettings()
	msg := agent.Facts{Mode: agent.ModeAuto, Text: "are you open on sundays?", InHours: true,
		Sentiment: ai.Sentiment{Score: 0.1}}

	v := agent.Decide(set, msg)
	fmt.Println("before retrieval, need an answer:", v.NeedAnswer)

	msg.Answer = &knowledge.Answer{Text: "We are open on Sundays from 9am to 3pm.", Confidence: 0.82}
	v = agent.Decide(set, msg)
	fmt.Println(v.Decision, "-", v.Reason)

	msg.Answer = &knowledge.Answer{Text: "We are open Monday to Saturday.", Confidence: 0.55, Unsupported: []string{"sundays"}}
	v = agent.Decide(set, msg)
	fmt.Println(v.Decision, "-", v.Reason)

	msg.Text = "this is useless, let me talk to a human"
	v = agent.Decide(set, msg)
	fmt.Println(v.Decision, "-", v.Reason)
	// Output:
	// before retrieval, need an answer: true
	// SENT - answered from the knowledge base
	// HANDED_OFF - the answer does not cover "sundays" from the question
	// HANDED_OFF - the customer asked for a human
}
