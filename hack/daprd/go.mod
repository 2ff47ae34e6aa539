// A small module that builds daprd (github.com/dapr/dapr/cmd/daprd) from the
// published dapr module; hack/build-daprd.sh copies it into the cache, pins
// github.com/dapr/dapr to DAPR_VERSION (hack/versions.env), tidies and builds.
// The replace lines are dapr's own (its go.mod at that version): a replace in a
// dependency's go.mod is ignored, so a module building daprd must repeat them.
// hack/build-daprd.sh refuses to build when they differ from dapr's.
//
// Why v1.18.1 and not the newest v1.18.3: this machine's module proxy does not
// serve github.com/dapr/durabletask-go v0.12.4 (dapr v1.18.3's pin, imported
// by dapr's core workflow engine, so no build tag avoids it), nor
// github.com/iskorotkov/avro/v2 v2.33.1 and the twmb/pulsar-client-go fork
// v1.18.3 replaces pulsar with (403 "This module version is not available").
// v1.18.1 pins durabletask-go v0.12.1, which it serves.
module eventworker.dev/hack/daprd

go 1.26.4

require github.com/dapr/dapr v1.18.1

// dapr v1.18.1 pins components-contrib v1.18.0, which the checksum database
// (as this machine's proxy serves it) does not know; v1.18.1 is the patch
// release of the same line and is verified.
require github.com/dapr/components-contrib v1.18.1

replace (
	dubbo.apache.org/dubbo-go/v3 => dubbo.apache.org/dubbo-go/v3 v3.0.3-0.20230118042253-4f159a2b38f3
	gopkg.in/couchbaselabs/gocbconnstr.v1 => github.com/couchbaselabs/gocbconnstr v1.0.5
)

replace (
	github.com/chenzhuoyu/iasm => github.com/chenzhuoyu/iasm v0.9.0
	github.com/chzyer/logex => github.com/chzyer/logex v1.2.1
	github.com/gobwas/pool => github.com/gobwas/pool v0.2.1
	github.com/toolkits/concurrent => github.com/niean/gotools v0.0.0-20151221085310-ff3f51fc5c60
)
