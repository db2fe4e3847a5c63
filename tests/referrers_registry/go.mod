// The referrers-capable registry used as a test peer: go-containerregistry's
// pkg/registry, pinned here (built by scripts/build-referrers-registry.sh).
module signet.test/referrers-registry

go 1.25.0

require github.com/google/go-containerregistry v0.22.1
