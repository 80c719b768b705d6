package local

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// clearFailedRustcProbes removes cargo's cache of rustc's answers
// (target/.rustc_info.json) from a shared target folder when it holds a
// failed answer. Cargo caches failures too, keyed by the rustc binary, not
// by the cause: a job killed with the coordinator while its sandbox was
// being torn down leaves "Current directory is invalid" there, and every
// later build of the component then fails the same way until rustc
// changes. The file is only a cache; cargo writes it again. It reports
// whether it removed one.
func clearFailedRustcProbes(target string) (bool, error) {
	path := filepath.Join(target, ".rustc_info.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var cache struct {
		Outputs map[string]struct {
			Success *bool `json:"success"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &cache); err != nil {
		// Not what this cargo writes: leave it to cargo, which discards
		// a cache it cannot read.
		return false, nil
	}
	for _, o := range cache.Outputs {
		if o.Success != nil && !*o.Success {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, err
			}
			return true, nil
		}
	}
	return false, nil
}
