#!/bin/sh
# Regenerates the Go code for every .proto file under proto/.
# Needs protoc (Debian: protobuf-compiler); the Go plugins come from go.mod's tool directives.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
module=$(go list -m)
gen_go=$(go tool -n protoc-gen-go)
gen_grpc=$(go tool -n protoc-gen-go-grpc)
protoc -I proto \
  --plugin=protoc-gen-go="$gen_go" --go_out=. --go_opt=module="$module" \
  --plugin=protoc-gen-go-grpc="$gen_grpc" --go-grpc_out=. --go-grpc_opt=module="$module" \
  $(find proto -name '*.proto' | sort)
