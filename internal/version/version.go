// Package version holds the Plateau version reported by /version, in
// MasterInfo and by `plateau --version`.
package version

// Version is Plateau's version; release builds set it with
// -ldflags "-X github.com/plateau/plateau/internal/version.Version=...".
var Version = "0.1.0-dev"

// MesosVersion is the Apache Mesos API version Plateau is compatible with.
const MesosVersion = "1.11.0"
