package flagenv

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantPort  int
		wantDir   string
		wantError string
	}{
		{name: "defaults", wantPort: 5050, wantDir: ""},
		{name: "flag", args: []string{"--port=6000"}, wantPort: 6000},
		{name: "env", env: map[string]string{"PLATEAU_PORT": "7000", "PLATEAU_WORK_DIR": "/w"}, wantPort: 7000, wantDir: "/w"},
		{name: "flag wins over env", args: []string{"--port", "6000"}, env: map[string]string{"PLATEAU_PORT": "7000"}, wantPort: 6000},
		{name: "bad env", env: map[string]string{"PLATEAU_PORT": "x"}, wantError: "PLATEAU_PORT"},
		{name: "bad flag", args: []string{"--port=x"}, wantError: "invalid value"},
		{name: "unknown flag", args: []string{"--nope"}, wantError: "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			port := fs.Int("port", 5050, "")
			dir := fs.String("work_dir", "", "")
			err := Parse(fs, tt.args, func(k string) string { return tt.env[k] })
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *port != tt.wantPort || *dir != tt.wantDir {
				t.Fatalf("port=%d dir=%q, want %d %q", *port, *dir, tt.wantPort, tt.wantDir)
			}
		})
	}
}

func TestList(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"a":                    "a",
		" a , b,,c ":           "a|b|c",
		",":                    "",
		"m1:5050, m2:5050 ,  ": "m1:5050|m2:5050",
	} {
		if got := strings.Join(List(in), "|"); got != want {
			t.Errorf("List(%q) = %q, want %q", in, got, want)
		}
	}
}
