package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"time"

	"github.com/neksio/neksio/core/connector"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/whatsapp"
)

// benchPlugin times a WhatsApp Send against the emulator through go-plugin
// (the connector Manager launching `neksio connector serve whatsapp`) and
// the same Send on the connector built in-process, alternating blocks of
// calls so drift on the machine hits both alike.
func benchPlugin(ctx context.Context, e *runEnv, r *Result) error {
	r.Title = "connector Send through go-plugin vs in-process"
	r.Baseline = "the same Send on whatsapp.New() in this process (same emulator, same HTTP call)"
	calls := e.cfg.sized(3000, 40)
	r.param("calls_each", calls)

	mgr := connector.New(connector.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	bin := e.bin
	if err := mgr.Register("whatsapp", func() *exec.Cmd { return exec.Command(bin, "connector", "serve", "whatsapp") }); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("starting the plugin: %w", err)
	}
	defer mgr.Close()
	viaPlugin, err := mgr.Get("whatsapp")
	if err != nil {
		return err
	}
	inProc := whatsapp.New()

	req := func(i int) *sdk.SendRequest {
		return &sdk.SendRequest{
			App:         sdk.App{APIBaseURL: e.waSrv.URL},
			Credentials: sdk.Credentials{AccessToken: waToken},
			AccountID:   waPhoneID, Kind: sdk.SendDirect,
			RecipientID: fmt.Sprintf("1650555%04d", i%10000),
			Text:        "Thanks for your message, we open at 9.",
		}
	}
	call := func(c sdk.Connector, i int, lat *latencies) error {
		t0 := time.Now()
		res, err := c.Send(ctx, req(i))
		if err != nil {
			return err
		}
		if lat != nil {
			lat.add(time.Since(t0))
		}
		if res.ExternalID == "" {
			return fmt.Errorf("send without a message id")
		}
		return nil
	}
	// Warm both paths (connections, the plugin's first calls).
	for i := range 20 {
		if err := call(viaPlugin, i, nil); err != nil {
			return fmt.Errorf("plugin send: %w", err)
		}
		if err := call(inProc, i, nil); err != nil {
			return fmt.Errorf("in-process send: %w", err)
		}
	}
	var plug, local latencies
	const block = 20
	for i := 0; i < calls; i += block {
		for j := i; j < min(i+block, calls); j++ {
			if err := call(viaPlugin, j, &plug); err != nil {
				return fmt.Errorf("plugin send: %w", err)
			}
		}
		for j := i; j < min(i+block, calls); j++ {
			if err := call(inProc, j, &local); err != nil {
				return fmt.Errorf("in-process send: %w", err)
			}
		}
	}
	p, l := plug.summary(), local.summary()
	r.latencyMetrics("Send round trip", p, l)
	r.metric("Send mean", "ms", "lower", p.Mean, l.Mean)
	r.detail("overhead_p50_ms", round3(p.P50-l.P50))
	r.detail("overhead_mean_ms", round3(p.Mean-l.Mean))
	e.wa.Reset()
	return nil
}
