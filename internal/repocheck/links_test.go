package repocheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const root = "../.."

// markdownLink is [text](target) with a relative target; an inline code
// span holding a path that leaves the repository counts too.
var (
	markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	outsidePath  = regexp.MustCompile("`(\\.\\./[^`]*)`")
)

// Every Markdown file of the repository (dependencies' excluded) links
// only to files that exist inside the repository, and names no path that
// leaves it: a reader of a clone has nothing else.
func TestMarkdownLinksStayInRepository(t *testing.T) {
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	var files int
	err = filepath.WalkDir(abs, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".md") {
			return nil
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(abs, path)
		for _, m := range markdownLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			dest := filepath.Join(filepath.Dir(path), target)
			if r, err := filepath.Rel(abs, dest); err != nil || strings.HasPrefix(r, "..") {
				t.Errorf("%s links %s, outside the repository", rel, m[1])
				continue
			}
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s links %s, which does not exist", rel, m[1])
			}
		}
		for _, m := range outsidePath.FindAllStringSubmatch(string(b), -1) {
			dest := filepath.Join(filepath.Dir(path), m[1])
			if r, err := filepath.Rel(abs, dest); err != nil || strings.HasPrefix(r, "..") {
				t.Errorf("%s names %s, outside the repository", rel, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("found %d Markdown files; is %s the repository?", files, abs)
	}
}

// The quick start's `flowsync serve --dev` creates ./flowsync-data (the
// default --data-dir): git ignores it.
func TestGitignoreCoversQuickStartData(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch strings.TrimSpace(line) {
		case "flowsync-data/", "/flowsync-data/", "flowsync-data", "/flowsync-data":
			return
		}
	}
	t.Fatal(".gitignore does not ignore flowsync-data/, which the quick start creates")
}
