// Package sdktest helps connector authors test their connectors the way
// Neksio will run them: Connect serves a Connector over real gRPC
// in-process, the *SignedWebhook helpers build deliveries signed like the
// platforms sign theirs, and Conformance checks the contract every
// connector keeps, with real deliveries the connector supplies (Fixtures:
// its signer, valid payloads and the events they yield) as well as bad
// ones.
package sdktest
