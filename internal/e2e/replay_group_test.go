package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// checkRefusedWhileEnginesRun runs replay and rebuild while engines of the
// pipeline run in its consumer group: both must refuse, naming the group
// and the fix, and change nothing.
func checkRefusedWhileEnginesRun(t *testing.T, cfg, stateDir string) {
	t.Helper()
	for _, args := range [][]string{
		{"replay", "-c", cfg, "--sink", "all", "--from", time.Now().UTC().Format(time.RFC3339)},
		{"rebuild", "-c", cfg, "--from-lake"},
	} {
		cmd := exec.Command(inletBin, args...)
		cmd.Env = append(os.Environ(), "INLET_STATE="+stateDir)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("inlet %s succeeded while an engine runs in the consumer group:\n%s", args[0], out)
		}
		for _, want := range []string{args[0] + ": ", "still run in consumer group", "stop every `inlet run` of this pipeline first"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("inlet %s refused without saying %q:\n%s", args[0], want, out)
			}
		}
	}
}
