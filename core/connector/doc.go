// Package connector is the host side of connector plugins: it launches
// each connector as its own process through HashiCorp go-plugin (gRPC,
// automatic mutual TLS), times out every call, health-checks the processes,
// and restarts one that died with capped exponential backoff.
//
// Built-in connectors are registered by name with a command factory (the
// neksio binary re-executed as `neksio connector serve NAME`); third-party
// connectors are the executables found in the plugin directory
// (NEKSIO_PLUGIN_DIR), named by what their Describe answers. Both take the
// same path, and callers only see sdk.Connector values from Get.
//
// Failures keep the SDK's classes: a plugin's *sdk.Error arrives as it was
// returned; a process that died, a call that timed out, or a connector that
// is restarting answer ClassRetryable. Classify is the one place a
// connector's failure becomes core's classification (apperr): a service
// returns Classify(err) where a job should run again, and the workers
// decide when.
package connector
