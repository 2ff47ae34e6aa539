// daprd's own main (github.com/dapr/dapr/cmd/daprd/main.go): the app package
// blank-imports cmd/daprd/components, whose files are selected by build tags
// (allcomponents or stablecomponents; without either it panics at start).
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() { app.Run() }
