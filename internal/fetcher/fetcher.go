// Package fetcher brings a task's CommandInfo.URIs into its sandbox before
// the executor starts, as Mesos's fetcher does (docs/fetcher.md): http(s),
// file:// and local paths; executable bits; archive extraction; output
// file names. Nothing it writes may land outside the sandbox.
package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// URI is one thing to fetch (mesos.CommandInfo.URI without protobuf).
type URI struct {
	Value      string
	Executable bool
	Extract    bool
	Cache      bool // honoured once a cache is configured
	OutputFile string
}

// Fetcher fetches URIs. The zero value fetches over http.DefaultClient and
// resolves relative paths against the working directory.
type Fetcher struct {
	Client *http.Client
	// FrameworksHome resolves relative local paths (Mesos's
	// --frameworks_home); empty means they are an error.
	FrameworksHome string
	// Cache, when set, keeps URIs marked Cache on the agent.
	Cache *Cache
}

// Fetch fetches every URI into sandbox, stopping at the first failure. The
// error names the URI.
func (f *Fetcher) Fetch(ctx context.Context, uris []URI, sandbox string) error {
	for _, u := range uris {
		if err := f.fetchOne(ctx, u, sandbox); err != nil {
			return fmt.Errorf("fetching %q: %w", u.Value, err)
		}
	}
	return nil
}

func (f *Fetcher) fetchOne(ctx context.Context, u URI, sandbox string) error {
	name := u.OutputFile
	if name == "" {
		name = path.Base(uriPath(u.Value))
	}
	if name == "" || name == "." || name == "/" {
		return errors.New("cannot tell the file name; set output_file")
	}
	dst, err := safeJoin(sandbox, name, sandbox)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if u.Cache && f.Cache != nil {
		cached, err := f.Cache.get(ctx, u.Value, func(tmp string) error { return f.download(ctx, u.Value, tmp) })
		if err != nil {
			return err
		}
		if err := copyFile(cached, dst); err != nil {
			return err
		}
	} else if err := f.download(ctx, u.Value, dst); err != nil {
		return err
	}
	if u.Executable {
		if err := os.Chmod(dst, 0o755); err != nil {
			return err
		}
	}
	if u.Extract && !u.Executable {
		extracted, err := extract(dst, filepath.Dir(dst), sandbox)
		if err != nil {
			return fmt.Errorf("extracting: %w", err)
		}
		if extracted {
			return os.Remove(dst)
		}
	}
	return nil
}

func uriPath(v string) string {
	if u, err := url.Parse(v); err == nil && u.Scheme != "" {
		return u.Path
	}
	return v
}

func (f *Fetcher) download(ctx context.Context, value, dst string) error {
	u, err := url.Parse(value)
	scheme := ""
	if err == nil {
		scheme = strings.ToLower(u.Scheme)
	}
	switch scheme {
	case "http", "https":
		return f.httpGet(ctx, value, dst)
	case "file":
		return copyFile(u.Path, dst)
	case "":
		src := value
		if !filepath.IsAbs(src) {
			if f.FrameworksHome == "" {
				return errors.New("a relative path needs the agent's --frameworks_home")
			}
			src = filepath.Join(f.FrameworksHome, src)
		}
		return copyFile(src, dst)
	default:
		return fmt.Errorf("unsupported scheme %q", scheme)
	}
}

func (f *Fetcher) httpGet(ctx context.Context, value, dst string) error {
	client := f.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, value, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return writeFile(dst, resp.Body)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, in)
}

func writeFile(dst string, r io.Reader) error {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
