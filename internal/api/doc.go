// Package api is the home of Plateau's wire types: the Apache Mesos v1
// protobuf API (packages under mesos/v1, generated from proto/mesos/v1) and
// Plateau's own master<->agent protocol (internalpb, generated from
// proto/plateau). The generated code is committed; `go generate ./...`
// reproduces it with protoc and the protoc-gen-go versions pinned in go.mod.
package api

//go:generate sh ./gen.sh
