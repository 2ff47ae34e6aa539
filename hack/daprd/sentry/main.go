// Dapr's sentry (github.com/dapr/dapr/cmd/sentry/main.go), for the node's Dapr
// control plane (hack/dapr/); built by hack/build-daprd.sh control-plane.
package main

import "github.com/dapr/dapr/cmd/sentry/app"

func main() { app.Run() }
