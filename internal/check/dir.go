package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// lowDisk is the free space under which a directory gets a warning.
const lowDisk = 1 << 30

// dir checks a local directory Inlet writes (state_dir, the lake): it is
// a directory, or can be created under its nearest existing parent; a
// probe file can be written and removed there; and how much disk is free.
func (ck *checker) dir(component, key, path string) *Group {
	g := &Group{Component: component}
	abs, err := filepath.Abs(path)
	if err != nil {
		g.fail("path", err.Error(), "fix "+ck.at(key))
		return g
	}
	// The nearest existing ancestor: Inlet creates what is missing.
	probeDir, missing := abs, false
	for {
		fi, err := os.Stat(probeDir)
		if err == nil {
			if !fi.IsDir() {
				what := "is a file, not a directory"
				if probeDir != abs {
					what = fmt.Sprintf("cannot be created: %s is a file, not a directory", probeDir)
				}
				g.fail("path", abs+" "+what, "point "+ck.at(key)+" at a directory")
				return g
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			g.fail("path", err.Error(), "fix "+ck.at(key)+" or the permissions on the way to it")
			return g
		}
		missing = true
		parent := filepath.Dir(probeDir)
		if parent == probeDir {
			break
		}
		probeDir = parent
	}
	if err := probeWrite(probeDir); err != nil {
		g.fail("writable", fmt.Sprintf("cannot write in %s: %v", probeDir, err),
			"let the user running Inlet write there (chown/chmod), or choose another "+ck.at(key))
	} else if missing {
		g.ok("writable", fmt.Sprintf("%s does not exist yet; Inlet creates it (%s is writable)", abs, probeDir))
	} else {
		g.ok("writable", abs)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(probeDir, &st); err != nil {
		g.warn("disk", "free space unknown: "+err.Error(), "")
		return g
	}
	free, total := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	g.result(verdictDisk(free, total))
	return g
}

func verdictDisk(free, total uint64) Result {
	d := fmt.Sprintf("%s free of %s", bytesText(free), bytesText(total))
	if free < lowDisk {
		return Result{Warn, "disk", d, "free some space or move the directory to a larger disk: Inlet stops when writes fail"}
	}
	return Result{OK, "disk", d, ""}
}

func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".inlet-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_, werr := f.Write([]byte("inlet check\n"))
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(name)
	return errors.Join(werr, serr, cerr, rerr)
}

func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
