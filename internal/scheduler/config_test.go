package scheduler

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/example"
)

const header = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"

func newWithConfig(t *testing.T, yaml string, reg framework.Registry) (*Scheduler, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	fc := newFakeCluster(t)
	return New(fc.client, Options{ConfigFile: path, Registry: reg})
}

func TestNew_ConfigErrorsNameTheField(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown score plugin", header + `profiles:
- plugins:
    score:
      enabled:
      - name: NodeAffinity
      - name: Foo
`, `profiles[0].plugins.score.enabled[1].name: unknown plugin "Foo"`},
		{"unknown top-level field", header + "parallelizm: 3\n", `unknown field "parallelizm"`},
		{"bad apiVersion", "apiVersion: v1\nkind: KubeSchedulerConfiguration\n", `apiVersion: unsupported value "v1"`},
		{"negative parallelism", header + "parallelism: -1\n", "parallelism: must be greater than 0"},
		{"percentage out of range", header + "percentageOfNodesToScore: 101\n", "percentageOfNodesToScore: must be in [0, 100]"},
		{"duplicate profile", header + "profiles:\n- schedulerName: a\n- schedulerName: a\n", `profiles[1].schedulerName: duplicate value "a"`},
		{"bad weight", header + "profiles:\n- plugins:\n    score:\n      enabled:\n      - name: ImageLocality\n        weight: 0\n",
			"profiles[0].plugins.score.enabled[0].weight: must be in [1, 100]"},
		{"plugin at wrong point", header + "profiles:\n- plugins:\n    score:\n      enabled:\n      - name: NodeName\n",
			`profiles[0].plugins.score.enabled: plugin "NodeName" does not implement score`},
		{"unknown pluginConfig", header + "profiles:\n- pluginConfig:\n  - name: Nope\n    args: {}\n",
			`profiles[0].pluginConfig[0].name: unknown plugin "Nope"`},
		{"bad plugin args field", header + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        typo: x\n",
			`plugin "NodeResourcesFit": json: unknown field "typo"`},
		{"bad scoring type", header + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: Random\n",
			`scoringStrategy.type: unsupported value "Random"`},
		{"extender without url", header + "extenders:\n- filterVerb: filter\n", "extenders[0].urlPrefix: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newWithConfig(t, tc.yaml, nil)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestNew_ConfigResolvesProfilesAndWeights(t *testing.T) {
	s, err := newWithConfig(t, header+`percentageOfNodesToScore: 30
profiles:
- schedulerName: default-scheduler
- schedulerName: packer
  plugins:
    score:
      disabled:
      - name: NodeResourcesBalancedAllocation
      - name: ImageLocality
      enabled:
      - name: NodeResourcesFit
        weight: 5
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := s.Profile(DefaultSchedulerName).ScorePluginNames()
	want := map[string]int64{"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1, "PodTopologySpread": 2,
		"InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
	if len(def) != len(want) {
		t.Fatalf("default profile scores %v, want %v", def, want)
	}
	for k, v := range want {
		if def[k] != v {
			t.Errorf("default weight of %s = %d, want %d", k, def[k], v)
		}
	}
	packer := s.Profile("packer").ScorePluginNames()
	if packer["NodeResourcesFit"] != 5 || packer["ImageLocality"] != 0 || packer["NodeResourcesBalancedAllocation"] != 0 {
		t.Fatalf("packer scores %v", packer)
	}
	if s.cfg.percentage != 30 {
		t.Fatalf("percentage %d", s.cfg.percentage)
	}
}

func TestScheduler_CustomPluginChangesPlacement(t *testing.T) {
	cfg, err := ParseConfig([]byte(header + `profiles:
- plugins:
    score:
      enabled:
      - name: PreferLabel
        weight: 100
  pluginConfig:
  - name: PreferLabel
    args:
      label: disktype
      value: ssd
`))
	if err != nil {
		t.Fatal(err)
	}
	// Without the plugin, LeastAllocated prefers the emptier "big" node.
	fc := newFakeCluster(t,
		makeNode("big", "16", "32Gi", 110, nil),
		makeNode("ssd", "2", "4Gi", 110, map[string]string{"disktype": "ssd"}),
	)
	startScheduler(t, fc, Options{Config: cfg, Registry: framework.Registry{example.PreferLabelName: example.New}})
	createPod(t, fc, makePod("default", "p", "500m", "512Mi"))
	eventually(t, 5*time.Second, "binding", func() bool { return fc.bindings()["default/p"] != "" })
	if got := fc.bindings()["default/p"]; got != "ssd" {
		t.Fatalf("bound to %q, want ssd (custom plugin)", got)
	}

	fc2 := newFakeCluster(t,
		makeNode("big", "16", "32Gi", 110, nil),
		makeNode("ssd", "2", "4Gi", 110, map[string]string{"disktype": "ssd"}),
	)
	startScheduler(t, fc2, Options{})
	createPod(t, fc2, makePod("default", "p", "500m", "512Mi"))
	eventually(t, 5*time.Second, "binding", func() bool { return fc2.bindings()["default/p"] != "" })
	if got := fc2.bindings()["default/p"]; got != "big" {
		t.Fatalf("control: bound to %q, want big", got)
	}
}

func TestScheduler_HTTPExtenderFiltersAndPrioritizes(t *testing.T) {
	var filterCalls, prioCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var args ExtenderArgs
		if err := json.NewDecoder(r.Body).Decode(&args); err != nil || args.Pod == nil || args.NodeNames == nil {
			http.Error(w, "bad args", 400)
			return
		}
		switch r.URL.Path {
		case "/filter":
			filterCalls.Add(1)
			var keep []string
			failed := map[string]string{}
			for _, n := range *args.NodeNames {
				if n == "n1" {
					failed[n] = "extender says no"
				} else {
					keep = append(keep, n)
				}
			}
			_ = json.NewEncoder(w).Encode(ExtenderFilterResult{NodeNames: &keep, FailedNodes: failed})
		case "/prioritize":
			prioCalls.Add(1)
			var list HostPriorityList
			for _, n := range *args.NodeNames {
				s := int64(0)
				if n == "n3" {
					s = 10
				}
				list = append(list, HostPriority{Host: n, Score: s})
			}
			_ = json.NewEncoder(w).Encode(list)
		}
	}))
	defer srv.Close()
	cfg, err := ParseConfig([]byte(header + "extenders:\n- urlPrefix: " + srv.URL + "\n  filterVerb: filter\n  prioritizeVerb: prioritize\n  weight: 5\n  nodeCacheCapable: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	objs := []runtime.Object{makeNode("n1", "8", "8Gi", 110, nil), makeNode("n2", "8", "8Gi", 110, nil), makeNode("n3", "8", "8Gi", 110, nil)}
	fc := newFakeCluster(t, objs...)
	startScheduler(t, fc, Options{Config: cfg})
	createPod(t, fc, makePod("default", "p", "100m", ""))
	eventually(t, 5*time.Second, "binding", func() bool { return fc.bindings()["default/p"] != "" })
	if got := fc.bindings()["default/p"]; got != "n3" {
		t.Fatalf("bound to %q, want n3 (extender preference)", got)
	}
	if filterCalls.Load() == 0 || prioCalls.Load() == 0 {
		t.Fatalf("extender calls: filter=%d prioritize=%d", filterCalls.Load(), prioCalls.Load())
	}
}
