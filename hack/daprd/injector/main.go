// Dapr's injector (github.com/dapr/dapr/cmd/injector/main.go), for the node's Dapr
// control plane (hack/dapr/); built by hack/build-daprd.sh control-plane.
package main

import "github.com/dapr/dapr/cmd/injector/app"

func main() { app.Run() }
