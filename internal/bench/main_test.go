package bench

import (
	"os"
	"testing"

	"github.com/plateau/plateau/internal/cluster"
)

func TestMain(m *testing.M) {
	cluster.RunIfExecutor()
	os.Exit(m.Run())
}
