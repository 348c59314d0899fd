// Package e2e holds end-to-end tests: a real master and agent on loopback
// sockets, real executor processes, driven by mesos-go v0.0.11 — a Mesos
// client library that nobody here wrote — in both of Mesos's encodings.
package e2e
