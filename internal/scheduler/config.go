package scheduler

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins"
)

// Config file identity, as upstream.
const (
	ConfigAPIVersion = "kubescheduler.config.k8s.io/v1"
	ConfigKind       = "KubeSchedulerConfiguration"
)

// Configuration is the KubeSchedulerConfiguration file. Only the fields
// Skiff acts on are modelled; clientConnection and the bind addresses are
// accepted for compatibility (the caller builds the client and HTTP).
type Configuration struct {
	APIVersion                string            `json:"apiVersion"`
	Kind                      string            `json:"kind"`
	Parallelism               *int32            `json:"parallelism,omitempty"`
	PercentageOfNodesToScore  *int32            `json:"percentageOfNodesToScore,omitempty"`
	PodInitialBackoffSeconds  *int64            `json:"podInitialBackoffSeconds,omitempty"`
	PodMaxBackoffSeconds      *int64            `json:"podMaxBackoffSeconds,omitempty"`
	LeaderElection            *LeaderElection   `json:"leaderElection,omitempty"`
	ClientConnection          *ClientConnection `json:"clientConnection,omitempty"`
	HealthzBindAddress        string            `json:"healthzBindAddress,omitempty"`
	MetricsBindAddress        string            `json:"metricsBindAddress,omitempty"`
	EnableProfiling           *bool             `json:"enableProfiling,omitempty"`
	EnableContentionProfiling *bool             `json:"enableContentionProfiling,omitempty"`
	DelayCacheUntilActive     bool              `json:"delayCacheUntilActive,omitempty"`
	Profiles                  []Profile         `json:"profiles,omitempty"`
	Extenders                 []ExtenderConfig  `json:"extenders,omitempty"`
}

// LeaderElection mirrors componentbaseconfig.LeaderElectionConfiguration.
type LeaderElection struct {
	LeaderElect       *bool           `json:"leaderElect,omitempty"`
	LeaseDuration     metav1.Duration `json:"leaseDuration,omitempty"`
	RenewDeadline     metav1.Duration `json:"renewDeadline,omitempty"`
	RetryPeriod       metav1.Duration `json:"retryPeriod,omitempty"`
	ResourceLock      string          `json:"resourceLock,omitempty"`
	ResourceName      string          `json:"resourceName,omitempty"`
	ResourceNamespace string          `json:"resourceNamespace,omitempty"`
}

// ClientConnection is accepted but informative: the caller builds the
// client (and should raise QPS/Burst, see Options).
type ClientConnection struct {
	Kubeconfig         string  `json:"kubeconfig,omitempty"`
	AcceptContentTypes string  `json:"acceptContentTypes,omitempty"`
	ContentType        string  `json:"contentType,omitempty"`
	QPS                float32 `json:"qps,omitempty"`
	Burst              int32   `json:"burst,omitempty"`
}

// Profile is one schedulerName with its plugins.
type Profile struct {
	SchedulerName            string         `json:"schedulerName,omitempty"`
	PercentageOfNodesToScore *int32         `json:"percentageOfNodesToScore,omitempty"`
	Plugins                  *Plugins       `json:"plugins,omitempty"`
	PluginConfig             []PluginConfig `json:"pluginConfig,omitempty"`
}

// Plugins lists enabled/disabled plugins per extension point.
type Plugins struct {
	PreEnqueue PluginSet `json:"preEnqueue,omitempty"`
	QueueSort  PluginSet `json:"queueSort,omitempty"`
	PreFilter  PluginSet `json:"preFilter,omitempty"`
	Filter     PluginSet `json:"filter,omitempty"`
	PostFilter PluginSet `json:"postFilter,omitempty"`
	PreScore   PluginSet `json:"preScore,omitempty"`
	Score      PluginSet `json:"score,omitempty"`
	Reserve    PluginSet `json:"reserve,omitempty"`
	Permit     PluginSet `json:"permit,omitempty"`
	PreBind    PluginSet `json:"preBind,omitempty"`
	Bind       PluginSet `json:"bind,omitempty"`
	PostBind   PluginSet `json:"postBind,omitempty"`
	MultiPoint PluginSet `json:"multiPoint,omitempty"`
}

// PluginSet enables and disables plugins at one point.
type PluginSet struct {
	Enabled  []PluginRef `json:"enabled,omitempty"`
	Disabled []PluginRef `json:"disabled,omitempty"`
}

// PluginRef names a plugin, with a score weight.
type PluginRef struct {
	Name   string `json:"name"`
	Weight *int32 `json:"weight,omitempty"`
}

// PluginConfig carries one plugin's args, decoded by the plugin itself.
type PluginConfig struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// ExtenderConfig configures an HTTP scheduler extender (upstream shape).
type ExtenderConfig struct {
	URLPrefix        string                    `json:"urlPrefix"`
	FilterVerb       string                    `json:"filterVerb,omitempty"`
	PreemptVerb      string                    `json:"preemptVerb,omitempty"`
	PrioritizeVerb   string                    `json:"prioritizeVerb,omitempty"`
	Weight           int64                     `json:"weight,omitempty"`
	BindVerb         string                    `json:"bindVerb,omitempty"`
	EnableHTTPS      bool                      `json:"enableHTTPS,omitempty"`
	TLSConfig        *ExtenderTLSConfig        `json:"tlsConfig,omitempty"`
	HTTPTimeout      metav1.Duration           `json:"httpTimeout,omitempty"`
	NodeCacheCapable bool                      `json:"nodeCacheCapable,omitempty"`
	ManagedResources []ExtenderManagedResource `json:"managedResources,omitempty"`
	Ignorable        bool                      `json:"ignorable,omitempty"`
}

// ExtenderTLSConfig is the client TLS setup for an HTTPS extender.
type ExtenderTLSConfig struct {
	Insecure   bool   `json:"insecure,omitempty"`
	ServerName string `json:"serverName,omitempty"`
	CertFile   string `json:"certFile,omitempty"`
	KeyFile    string `json:"keyFile,omitempty"`
	CAFile     string `json:"caFile,omitempty"`
	CertData   []byte `json:"certData,omitempty"`
	KeyData    []byte `json:"keyData,omitempty"`
	CAData     []byte `json:"caData,omitempty"`
}

// ExtenderManagedResource is an extended resource the extender manages.
type ExtenderManagedResource struct {
	Name               string `json:"name"`
	IgnoredByScheduler bool   `json:"ignoredByScheduler,omitempty"`
}

// LoadConfig reads and strictly parses a configuration file: unknown
// fields are errors that name the field.
func LoadConfig(path string) (*Configuration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading scheduler config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig strictly parses YAML or JSON configuration.
func ParseConfig(data []byte) (*Configuration, error) {
	var cfg Configuration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, err
	}
	if cfg.APIVersion != ConfigAPIVersion {
		return nil, fmt.Errorf("apiVersion: unsupported value %q (want %q)", cfg.APIVersion, ConfigAPIVersion)
	}
	if cfg.Kind != ConfigKind {
		return nil, fmt.Errorf("kind: unsupported value %q (want %q)", cfg.Kind, ConfigKind)
	}
	return &cfg, nil
}

// implicitPlugins are upstream names whose job Skiff does natively (queue
// order, gates): accepted at their extension point, never instantiated.
var implicitPlugins = map[string]string{
	"PrioritySort":    "queueSort",
	"SchedulingGates": "preEnqueue",
}

// resolved is the validated configuration the scheduler runs with.
type resolved struct {
	parallelism    int
	percentage     int32
	initialBackoff time.Duration
	maxBackoff     time.Duration
	profiles       []framework.ProfileSpec
	extenders      []ExtenderConfig
	leaderElection *LeaderElection
}

// resolve validates cfg (nil means all defaults) against the registry and
// returns profile specs; every error names the offending field.
func resolve(cfg *Configuration, reg framework.Registry) (*resolved, error) {
	if cfg == nil {
		cfg = &Configuration{APIVersion: ConfigAPIVersion, Kind: ConfigKind}
	}
	r := &resolved{parallelism: framework.DefaultParallelism, initialBackoff: time.Second, maxBackoff: 10 * time.Second,
		leaderElection: cfg.LeaderElection}
	if p := cfg.Parallelism; p != nil {
		if *p <= 0 {
			return nil, fmt.Errorf("parallelism: must be greater than 0, got %d", *p)
		}
		r.parallelism = int(*p)
	}
	if p := cfg.PercentageOfNodesToScore; p != nil {
		if *p < 0 || *p > 100 {
			return nil, fmt.Errorf("percentageOfNodesToScore: must be in [0, 100], got %d", *p)
		}
		r.percentage = *p
	}
	if b := cfg.PodInitialBackoffSeconds; b != nil {
		if *b <= 0 {
			return nil, fmt.Errorf("podInitialBackoffSeconds: must be greater than 0, got %d", *b)
		}
		r.initialBackoff = time.Duration(*b) * time.Second
	}
	if b := cfg.PodMaxBackoffSeconds; b != nil {
		if *b <= 0 || time.Duration(*b)*time.Second < r.initialBackoff {
			return nil, fmt.Errorf("podMaxBackoffSeconds: must be at least podInitialBackoffSeconds, got %d", *b)
		}
		r.maxBackoff = time.Duration(*b) * time.Second
	}
	profiles := cfg.Profiles
	if len(profiles) == 0 {
		profiles = []Profile{{}}
	}
	seen := map[string]int{}
	for i := range profiles {
		spec, err := resolveProfile(&profiles[i], reg)
		if err != nil {
			return nil, fmt.Errorf("profiles[%d].%w", i, err)
		}
		if j, dup := seen[spec.SchedulerName]; dup {
			return nil, fmt.Errorf("profiles[%d].schedulerName: duplicate value %q (also profiles[%d])", i, spec.SchedulerName, j)
		}
		seen[spec.SchedulerName] = i
		r.profiles = append(r.profiles, spec)
	}
	for i, e := range cfg.Extenders {
		if err := validateExtender(&e); err != nil {
			return nil, fmt.Errorf("extenders[%d].%w", i, err)
		}
	}
	r.extenders = cfg.Extenders
	return r, nil
}

func resolveProfile(p *Profile, reg framework.Registry) (framework.ProfileSpec, error) {
	spec := framework.ProfileSpec{SchedulerName: p.SchedulerName, PercentageOfNodesToScore: p.PercentageOfNodesToScore,
		Enabled: map[string][]framework.PluginRef{}, Disabled: map[string][]string{}, Args: map[string]json.RawMessage{}}
	if spec.SchedulerName == "" {
		spec.SchedulerName = DefaultSchedulerName
	}
	if v := p.PercentageOfNodesToScore; v != nil && (*v < 0 || *v > 100) {
		return spec, fmt.Errorf("percentageOfNodesToScore: must be in [0, 100], got %d", *v)
	}
	plugs := p.Plugins
	if plugs == nil {
		plugs = &Plugins{}
	}
	// MultiPoint: defaults, minus disabled, plus enabled.
	disabledMulti := names(plugs.MultiPoint.Disabled)
	if !disabledMulti["*"] {
		for _, ref := range plugins.DefaultPlugins() {
			if !disabledMulti[ref.Name] {
				spec.MultiPoint = append(spec.MultiPoint, ref)
			}
		}
	}
	points := map[string]*PluginSet{
		"preEnqueue": &plugs.PreEnqueue, "queueSort": &plugs.QueueSort,
		framework.PointPreFilter: &plugs.PreFilter, framework.PointFilter: &plugs.Filter,
		framework.PointPostFilter: &plugs.PostFilter, framework.PointPreScore: &plugs.PreScore,
		framework.PointScore: &plugs.Score, framework.PointReserve: &plugs.Reserve,
		framework.PointPermit: &plugs.Permit, framework.PointPreBind: &plugs.PreBind,
		framework.PointBind: &plugs.Bind, framework.PointPostBind: &plugs.PostBind,
	}
	for j, ref := range plugs.MultiPoint.Enabled {
		w, err := checkRef(reg, "multiPoint", j, ref)
		if err != nil {
			return spec, err
		}
		if k := indexOfRef(spec.MultiPoint, ref.Name); k >= 0 {
			if w != 0 {
				spec.MultiPoint[k].Weight = w
			}
			continue
		}
		spec.MultiPoint = append(spec.MultiPoint, framework.PluginRef{Name: ref.Name, Weight: w})
	}
	for point, set := range points {
		for j, ref := range set.Enabled {
			if want, ok := implicitPlugins[ref.Name]; ok {
				if want != point {
					return spec, fmt.Errorf("plugins.%s.enabled[%d].name: plugin %q only works at %s", point, j, ref.Name, want)
				}
				continue
			}
			if point == "preEnqueue" || point == "queueSort" {
				return spec, fmt.Errorf("plugins.%s.enabled[%d].name: unsupported plugin %q (only %s is supported here)", point, j, ref.Name, implicitName(point))
			}
			w, err := checkRef(reg, point, j, ref)
			if err != nil {
				return spec, err
			}
			spec.Enabled[point] = append(spec.Enabled[point], framework.PluginRef{Name: ref.Name, Weight: w})
		}
		for _, ref := range set.Disabled {
			spec.Disabled[point] = append(spec.Disabled[point], ref.Name)
		}
	}
	for j, pc := range p.PluginConfig {
		if _, ok := reg[pc.Name]; !ok {
			if _, implicit := implicitPlugins[pc.Name]; implicit {
				continue
			}
			return spec, fmt.Errorf("pluginConfig[%d].name: unknown plugin %q", j, pc.Name)
		}
		if _, dup := spec.Args[pc.Name]; dup {
			return spec, fmt.Errorf("pluginConfig[%d].name: duplicate config for plugin %q", j, pc.Name)
		}
		spec.Args[pc.Name] = pc.Args
	}
	return spec, nil
}

func implicitName(point string) string {
	for n, p := range implicitPlugins {
		if p == point {
			return n
		}
	}
	return ""
}

func checkRef(reg framework.Registry, point string, j int, ref PluginRef) (int32, error) {
	if _, ok := reg[ref.Name]; !ok {
		return 0, fmt.Errorf("plugins.%s.enabled[%d].name: unknown plugin %q", point, j, ref.Name)
	}
	if ref.Weight == nil {
		return 0, nil
	}
	if *ref.Weight <= 0 || *ref.Weight > 100 {
		return 0, fmt.Errorf("plugins.%s.enabled[%d].weight: must be in [1, 100], got %d", point, j, *ref.Weight)
	}
	return *ref.Weight, nil
}

func names(refs []PluginRef) map[string]bool {
	m := make(map[string]bool, len(refs))
	for _, r := range refs {
		m[r.Name] = true
	}
	return m
}

func indexOfRef(refs []framework.PluginRef, name string) int {
	for i, r := range refs {
		if r.Name == name {
			return i
		}
	}
	return -1
}

func validateExtender(e *ExtenderConfig) error {
	if e.URLPrefix == "" {
		return fmt.Errorf("urlPrefix: required")
	}
	if e.PrioritizeVerb != "" && e.Weight <= 0 {
		return fmt.Errorf("weight: must be positive when prioritizeVerb is set, got %d", e.Weight)
	}
	if e.BindVerb != "" {
		return fmt.Errorf("bindVerb: not supported by Skiff")
	}
	return nil
}
