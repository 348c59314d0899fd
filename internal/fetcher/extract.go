package fetcher

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// extract unpacks an archive into dir (which lies in sandbox), choosing
// the format by extension. It reports false for files that are not
// archives.
func extract(file, dir, sandbox string) (bool, error) {
	lower := strings.ToLower(file)
	switch {
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return true, untarCompressed(file, dir, sandbox, gzipReader)
	case strings.HasSuffix(lower, ".tar.bz2"), strings.HasSuffix(lower, ".tbz2"):
		return true, untarCompressed(file, dir, sandbox, func(r io.Reader) (io.Reader, error) { return bzip2.NewReader(r), nil })
	case strings.HasSuffix(lower, ".tar"):
		return true, untarCompressed(file, dir, sandbox, func(r io.Reader) (io.Reader, error) { return r, nil })
	case strings.HasSuffix(lower, ".zip"):
		return true, unzip(file, dir, sandbox)
	case strings.HasSuffix(lower, ".gz"):
		return true, gunzip(file, strings.TrimSuffix(file, filepath.Ext(file)))
	}
	return false, nil
}

func gzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

func untarCompressed(file, dir, sandbox string, decompress func(io.Reader) (io.Reader, error)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		dst, err := safeJoin(dir, h.Name, sandbox)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeEntry(dst, tr, os.FileMode(h.Mode).Perm()); err != nil {
				return err
			}
		case tar.TypeSymlink:
			target := h.Linkname
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(dst), target)
			}
			if _, err := safeJoin(sandbox, mustRel(sandbox, target), sandbox); err != nil {
				return fmt.Errorf("symlink %q points outside the sandbox", h.Name)
			}
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		}
	}
}

func mustRel(base, target string) string {
	rel, err := filepath.Rel(base, target)
	if err != nil {
		return ".." // refused by safeJoin
	}
	return rel
}

func unzip(file, dir, sandbox string) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, zf := range zr.File {
		dst, err := safeJoin(dir, zf.Name, sandbox)
		if err != nil {
			return err
		}
		if zf.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if zf.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("zip entry %q is a symlink, which is not supported", zf.Name)
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		err = writeEntry(dst, rc, zf.Mode().Perm())
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func gunzip(file, dst string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	return writeEntry(dst, zr, 0o644)
}

// safeJoin joins an archive entry's name to dir, refusing names that would
// land outside the sandbox ("zip slip").
func safeJoin(dir, name, sandbox string) (string, error) {
	p := filepath.Join(dir, name)
	rel, err := filepath.Rel(sandbox, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("archive entry %q escapes the sandbox", name)
	}
	return p, nil
}

func writeEntry(dst string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
