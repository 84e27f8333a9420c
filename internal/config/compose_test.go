package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml this test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       string            `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck map[string]any    `yaml:"healthcheck"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestComposeFileConsistent keeps docker-compose.yml runnable where
// Docker cannot run (this machine, CI): every service has an image or a
// build with a Dockerfile, every file it mounts exists, every dependency
// names a service (one with a health check when it waits for health), and
// every inlet service's pipeline file loads and validates with the
// environment that service sets.
func TestComposeFileConsistent(t *testing.T) {
	root := "../.."
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	inlets := 0
	for name, s := range cf.Services {
		switch {
		case s.Build != "":
			if _, err := os.Stat(filepath.Join(root, s.Build, "Dockerfile")); err != nil {
				t.Errorf("service %s builds %s, which has no Dockerfile: %v", name, s.Build, err)
			}
		case s.Image == "":
			t.Errorf("service %s has neither image nor build", name)
		}
		mounts := map[string]string{} // container path -> host path
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 || !strings.HasPrefix(parts[0], "./") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, parts[0])); err != nil {
				t.Errorf("service %s mounts %s, which does not exist", name, parts[0])
			}
			mounts[parts[1]] = parts[0]
		}
		for dep, d := range s.DependsOn {
			target, ok := cf.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			case !slices.Contains([]string{"", "service_started", "service_healthy", "service_completed_successfully"}, d.Condition):
				t.Errorf("service %s: unknown depends_on condition %q", name, d.Condition)
			}
		}
		i := slices.Index(s.Command, "-c")
		if s.Build == "" || len(s.Command) == 0 || s.Command[0] != "run" || i < 0 || i+1 >= len(s.Command) {
			continue
		}
		inlets++
		host, ok := mounts[s.Command[i+1]]
		if !ok {
			t.Errorf("service %s runs inlet with %s, which no volume mounts", name, s.Command[i+1])
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Setenv("HOSTNAME", name+"-1") // Docker sets it in every container
			for k, v := range s.Environment {
				t.Setenv(k, v)
			}
			c, err := Load(filepath.Join(root, host))
			if err != nil {
				t.Fatalf("%s with the service's environment: %v", host, err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("%s with the service's environment: %v", host, err)
			}
		})
	}
	if inlets == 0 {
		t.Error("no inlet service found in docker-compose.yml (the scale-out profile runs some)")
	}
}
