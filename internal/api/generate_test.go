package api

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plateau/plateau/internal/testenv"
)

// The committed generated code must be what `go generate` produces from
// the .proto files.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		testenv.Unavailable(t, "protoc is not installed (Debian: protobuf-compiler)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	gen := func(tool string) string {
		p, err := exec.Command("go", "tool", "-n", tool).Output()
		if err != nil {
			t.Fatalf("go tool -n %s: %v", tool, err)
		}
		return strings.TrimSpace(string(p))
	}
	var protos []string
	filepath.WalkDir(filepath.Join(root, "proto"), func(p string, d os.DirEntry, err error) error {
		if strings.HasSuffix(p, ".proto") {
			rel, _ := filepath.Rel(filepath.Join(root, "proto"), p)
			protos = append(protos, rel)
		}
		return nil
	})
	args := append([]string{"-I", filepath.Join(root, "proto"),
		"--plugin=protoc-gen-go=" + gen("protoc-gen-go"), "--go_out=" + out, "--go_opt=paths=import",
		"--plugin=protoc-gen-go-grpc=" + gen("protoc-gen-go-grpc"), "--go-grpc_out=" + out, "--go-grpc_opt=paths=import"}, protos...)
	cmd := exec.Command("protoc", args...)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, msg)
	}
	prefix := filepath.Join(out, "github.com/plateau/plateau")
	n := 0
	filepath.WalkDir(prefix, func(p string, d os.DirEntry, err error) error {
		if d == nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(prefix, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what go generate makes from proto/; run go generate ./internal/api", rel)
		}
		n++
		return nil
	})
	if n == 0 {
		t.Fatal("protoc generated nothing")
	}
}
