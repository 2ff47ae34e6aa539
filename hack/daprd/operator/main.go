// Dapr's operator (github.com/dapr/dapr/cmd/operator/main.go), for the node's Dapr
// control plane (hack/dapr/); built by hack/build-daprd.sh control-plane.
package main

import "github.com/dapr/dapr/cmd/operator/app"

func main() { app.Run() }
