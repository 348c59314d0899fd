// Package flagenv parses command-line flags with environment fallbacks:
// every flag --name can also be given as PLATEAU_NAME (upper case), and a
// flag given on the command line wins over the environment.
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// Prefix starts the name of every environment variable that sets a flag.
const Prefix = "PLATEAU_"

// EnvName returns the environment variable that sets the flag name.
func EnvName(name string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse parses args into fs, then sets every flag not given on the command
// line from its environment variable, looked up with getenv. Errors name the
// flag or variable at fault.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := EnvName(f.Name)
		v := getenv(env)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q for %s (flag --%s): %w", v, env, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// List splits a comma-separated flag value (--master, --peers,
// --isolation, --roles) into its trimmed, non-empty items.
func List(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
