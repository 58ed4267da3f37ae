package rediskey_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// taskTypes are the "fbs:" literals that are asynq task type names, not
// keys: the only ones allowed outside this package.
var taskTypes = map[string]bool{"TypeBuild": true, "TypeTransfer": true, "TypeNotify": true, "TypeSchedule": true}

// TestNoKeyLiteralsElsewhere walks the module's non-test Go files and
// fails on any string literal that starts a Redis key ("fbs:" and a name)
// outside this package: the schema is written in one place.
func TestNoKeyLiteralsElsewhere(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	self, _ := filepath.Abs(".")
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == self || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		checked++
		allowed := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				for i, name := range vs.Names {
					if lit, ok := valueAt(vs, i).(*ast.BasicLit); ok && taskTypes[name.Name] {
						allowed[lit] = true
					}
				}
			}
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || allowed[lit] {
				return true
			}
			if s, err := strconv.Unquote(lit.Value); err == nil && isKey(s) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d: Redis key literal %s: name it in tasks/rediskey", rel, fset.Position(lit.Pos()).Line, lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files under %s", checked, root)
	}
}

func valueAt(vs *ast.ValueSpec, i int) ast.Expr {
	if i < len(vs.Values) {
		return vs.Values[i]
	}
	return nil
}

// isKey reports whether s starts like a key of fbs: the prefix and a name.
func isKey(s string) bool {
	rest, ok := strings.CutPrefix(s, rediskey.Prefix)
	return ok && rest != "" && rest[0] >= 'a' && rest[0] <= 'z'
}

// TestKeys pins the key names: they are what a running service already
// has in Redis, so a change here is a data migration, not a rename.
func TestKeys(t *testing.T) {
	t.Parallel()
	const id = "01JBXK3M0000000000000000AA"
	for got, want := range map[string]string{
		rediskey.Builds:                          "fbs:builds",
		rediskey.Running:                         "fbs:builds:running",
		rediskey.CountByState:                    "fbs:builds:bystate",
		rediskey.Counters:                        "fbs:stats",
		rediskey.Build(id):                       "fbs:build:" + id,
		rediskey.Summary(id):                     "fbs:summary:" + id,
		rediskey.Payload(id):                     "fbs:payload:" + id,
		rediskey.BuildsOf("alice"):               "fbs:builds:owner:alice",
		rediskey.BuildsIn("running"):             "fbs:builds:state:running",
		rediskey.Log(id):                         "fbs:log:" + id,
		rediskey.Lease(id):                       "fbs:lease:" + id,
		rediskey.Lock("reap:" + id):              "fbs:lock:reap:" + id,
		rediskey.Workers:                         "fbs:workers",
		rediskey.Worker("h/1"):                   "fbs:workers:h/1",
		rediskey.NotifySent(id + ":finished"):    "fbs:notify:sent:" + id + ":finished",
		rediskey.NotifyLock(id + ":finished"):    "fbs:notify:lock:" + id + ":finished",
		rediskey.BuildSeconds:                    "fbs:metrics:build_seconds",
		rediskey.StageSeconds:                    "fbs:metrics:stage_seconds",
		rediskey.Session("ab"):                   "fbs:web:session:ab",
		rediskey.SignInState("ab"):               "fbs:web:oidcstate:ab",
		rediskey.Token("ab"):                     "fbs:web:token:ab",
		rediskey.TokensOf("alice"):               "fbs:web:tokens:alice",
		rediskey.User("alice"):                   "fbs:web:user:alice",
		rediskey.WebSecret:                       "fbs:web:secret",
		rediskey.SubmitRate("alice", 29_999_999): "fbs:web:rate:alice:29999999",
	} {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
}
