package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Extension point names, as they appear in configuration.
const (
	PointPreFilter  = "preFilter"
	PointFilter     = "filter"
	PointPostFilter = "postFilter"
	PointPreScore   = "preScore"
	PointScore      = "score"
	PointReserve    = "reserve"
	PointPermit     = "permit"
	PointPreBind    = "preBind"
	PointBind       = "bind"
	PointPostBind   = "postBind"
)

// Points lists the extension points in the order a pod meets them.
var Points = []string{PointPreFilter, PointFilter, PointPostFilter, PointPreScore, PointScore,
	PointReserve, PointPermit, PointPreBind, PointBind, PointPostBind}

// Implements reports whether p implements extension point point.
func Implements(p Plugin, point string) bool {
	var ok bool
	switch point {
	case PointPreFilter:
		_, ok = p.(PreFilterPlugin)
	case PointFilter:
		_, ok = p.(FilterPlugin)
	case PointPostFilter:
		_, ok = p.(PostFilterPlugin)
	case PointPreScore:
		_, ok = p.(PreScorePlugin)
	case PointScore:
		_, ok = p.(ScorePlugin)
	case PointReserve:
		_, ok = p.(ReservePlugin)
	case PointPermit:
		_, ok = p.(PermitPlugin)
	case PointPreBind:
		_, ok = p.(PreBindPlugin)
	case PointBind:
		_, ok = p.(BindPlugin)
	case PointPostBind:
		_, ok = p.(PostBindPlugin)
	}
	return ok
}

// PluginRef is one enabled plugin at one extension point.
type PluginRef struct {
	Name   string
	Weight int32 // score only; 0 means the default weight (1 if none)
}

// ProfileSpec is a profile as configured: a multi-point list (the defaults
// merged with the user's multiPoint section) plus per-point overrides.
// NewFramework resolves it the way upstream does: a multi-point plugin is
// enabled at every point it implements unless disabled there ("*" disables
// all of them); a plugin explicitly enabled at a point is added (or, if
// already there, given the explicit weight).
type ProfileSpec struct {
	SchedulerName string
	MultiPoint    []PluginRef
	Enabled       map[string][]PluginRef
	Disabled      map[string][]string
	Args          map[string]json.RawMessage
	// PercentageOfNodesToScore overrides the global value when non-nil.
	PercentageOfNodesToScore *int32
}

// Deps are the shared services a framework hands to its plugins.
type Deps struct {
	Client      kubernetes.Interface
	Informers   informers.SharedInformerFactory
	Recorder    record.EventRecorder
	Snapshot    NodeInfoLister
	Parallelism int
}

// PointError says a plugin cannot be used where it was configured.
type PointError struct {
	Point, Plugin, Msg string
}

func (e *PointError) Error() string {
	return fmt.Sprintf("plugins.%s: plugin %q %s", e.Point, e.Plugin, e.Msg)
}

// ArgsError says a plugin rejected its args.
type ArgsError struct {
	Plugin string
	Err    error
}

func (e *ArgsError) Error() string { return fmt.Sprintf("plugin %q: %v", e.Plugin, e.Err) }
func (e *ArgsError) Unwrap() error { return e.Err }

type scorePlugin struct {
	ScorePlugin
	weight int64
}

// Framework runs one profile's plugins. It is used by the single scheduling
// goroutine (filter/score fan out internally); binding methods may run
// concurrently from bind goroutines.
type Framework struct {
	deps         Deps
	profile      ProfileSpec
	parallelizer Parallelizer

	preFilter  []PreFilterPlugin
	filter     []FilterPlugin
	postFilter []PostFilterPlugin
	preScore   []PreScorePlugin
	score      []scorePlugin
	reserve    []ReservePlugin
	permit     []PermitPlugin
	preBind    []PreBindPlugin
	bind       []BindPlugin
	postBind   []PostBindPlugin
	extensions map[string]PreFilterExtensions

	waitingMu sync.Mutex
	waiting   map[string]*waitingPod

	scoreBuf [][]NodeScore
}

// NewFramework instantiates every plugin named by spec once and sorts them
// into extension points.
func NewFramework(reg Registry, spec ProfileSpec, deps Deps) (*Framework, error) {
	f := &Framework{deps: deps, profile: spec, parallelizer: NewParallelizer(deps.Parallelism),
		extensions: map[string]PreFilterExtensions{}, waiting: map[string]*waitingPod{}}
	instances := map[string]Plugin{}
	get := func(where, name string) (Plugin, error) {
		if p, ok := instances[name]; ok {
			return p, nil
		}
		factory, ok := reg[name]
		if !ok {
			return nil, &PointError{Point: where, Plugin: name, Msg: "is not registered"}
		}
		p, err := factory(spec.Args[name], f)
		if err != nil {
			return nil, &ArgsError{Plugin: name, Err: err}
		}
		instances[name] = p
		return p, nil
	}
	multi := make([]Plugin, len(spec.MultiPoint))
	for i, ref := range spec.MultiPoint {
		p, err := get("multiPoint.enabled", ref.Name)
		if err != nil {
			return nil, err
		}
		multi[i] = p
	}
	for _, point := range Points {
		disabled := map[string]bool{}
		for _, n := range spec.Disabled[point] {
			disabled[n] = true
		}
		var refs []PluginRef
		var list []Plugin
		if !disabled["*"] {
			for i, ref := range spec.MultiPoint {
				if !disabled[ref.Name] && Implements(multi[i], point) {
					refs, list = append(refs, ref), append(list, multi[i])
				}
			}
		}
		for _, ref := range spec.Enabled[point] {
			p, err := get(point+".enabled", ref.Name)
			if err != nil {
				return nil, err
			}
			if !Implements(p, point) {
				return nil, &PointError{Point: point + ".enabled", Plugin: ref.Name, Msg: "does not implement " + point}
			}
			if i := indexRef(refs, ref.Name); i >= 0 {
				if ref.Weight != 0 {
					refs[i].Weight = ref.Weight
				}
				continue
			}
			refs, list = append(refs, ref), append(list, p)
		}
		for i, p := range list {
			f.add(point, p, refs[i].Weight)
		}
	}
	for name := range spec.Args {
		if _, known := reg[name]; !known {
			return nil, &ArgsError{Plugin: name, Err: fmt.Errorf("unknown plugin")}
		}
	}
	return f, nil
}

func indexRef(refs []PluginRef, name string) int {
	for i, r := range refs {
		if r.Name == name {
			return i
		}
	}
	return -1
}

func (f *Framework) add(point string, p Plugin, weight int32) {
	switch point {
	case PointPreFilter:
		f.preFilter = append(f.preFilter, p.(PreFilterPlugin))
		if ext, ok := p.(PreFilterExtensions); ok {
			f.extensions[p.Name()] = ext
		}
	case PointFilter:
		f.filter = append(f.filter, p.(FilterPlugin))
	case PointPostFilter:
		f.postFilter = append(f.postFilter, p.(PostFilterPlugin))
	case PointPreScore:
		f.preScore = append(f.preScore, p.(PreScorePlugin))
	case PointScore:
		if weight <= 0 {
			weight = 1
		}
		f.score = append(f.score, scorePlugin{p.(ScorePlugin), int64(weight)})
	case PointReserve:
		f.reserve = append(f.reserve, p.(ReservePlugin))
	case PointPermit:
		f.permit = append(f.permit, p.(PermitPlugin))
	case PointPreBind:
		f.preBind = append(f.preBind, p.(PreBindPlugin))
	case PointBind:
		f.bind = append(f.bind, p.(BindPlugin))
	case PointPostBind:
		f.postBind = append(f.postBind, p.(PostBindPlugin))
	}
}

// ProfileName is the schedulerName this framework serves.
func (f *Framework) ProfileName() string { return f.profile.SchedulerName }

// PercentageOfNodesToScore is the profile override, or nil.
func (f *Framework) PercentageOfNodesToScore() *int32 { return f.profile.PercentageOfNodesToScore }

// HasFilterPlugins / HasScorePlugins / HasPostFilterPlugins report configuration.
func (f *Framework) HasFilterPlugins() bool     { return len(f.filter) > 0 }
func (f *Framework) HasScorePlugins() bool      { return len(f.score) > 0 }
func (f *Framework) HasPostFilterPlugins() bool { return len(f.postFilter) > 0 }

// ScorePluginNames returns the enabled score plugins with weights (for tests
// and debugging).
func (f *Framework) ScorePluginNames() map[string]int64 {
	m := make(map[string]int64, len(f.score))
	for _, p := range f.score {
		m[p.Name()] = p.weight
	}
	return m
}

// --- Handle ---

func (f *Framework) SnapshotSharedLister() NodeInfoLister                   { return f.deps.Snapshot }
func (f *Framework) ClientSet() kubernetes.Interface                        { return f.deps.Client }
func (f *Framework) SharedInformerFactory() informers.SharedInformerFactory { return f.deps.Informers }
func (f *Framework) EventRecorder() record.EventRecorder                    { return f.deps.Recorder }
func (f *Framework) Parallelizer() Parallelizer                             { return f.parallelizer }

// --- scheduling cycle ---

// RunPreFilterPlugins runs PreFilter plugins in order; the first rejection
// ends the cycle. Node-name results are intersected.
func (f *Framework) RunPreFilterPlugins(ctx context.Context, state *CycleState, pod *v1.Pod) (*PreFilterResult, *Status) {
	var result *PreFilterResult
	for _, pl := range f.preFilter {
		r, s := pl.PreFilter(ctx, state, pod)
		if s.IsSkip() {
			if state.skipFilter == nil {
				state.skipFilter = map[string]bool{}
			}
			state.skipFilter[pl.Name()] = true
			continue
		}
		if !s.IsSuccess() {
			return nil, s.WithPlugin(pl.Name())
		}
		result = mergePreFilter(result, r)
	}
	return result, nil
}

func mergePreFilter(a, b *PreFilterResult) *PreFilterResult {
	if b == nil || b.NodeNames == nil {
		return a
	}
	if a == nil || a.NodeNames == nil {
		return b
	}
	out := &PreFilterResult{NodeNames: map[string]struct{}{}}
	for n := range a.NodeNames {
		if _, ok := b.NodeNames[n]; ok {
			out.NodeNames[n] = struct{}{}
		}
	}
	return out
}

// RunFilterPlugins runs filters on one node and stops at the first
// rejection, whose status names the plugin.
func (f *Framework) RunFilterPlugins(ctx context.Context, state *CycleState, pod *v1.Pod, ni *NodeInfo) *Status {
	for _, pl := range f.filter {
		if state.skipFilter != nil && state.skipFilter[pl.Name()] {
			continue
		}
		if s := pl.Filter(ctx, state, pod, ni); !s.IsSuccess() {
			if s.Code() == Error {
				return s.WithPlugin(pl.Name())
			}
			return s.WithPlugin(pl.Name())
		}
	}
	return nil
}

// RunPreFilterExtensionAddPod updates every plugin's state for a pod added
// to nodeInfo during a simulation.
func (f *Framework) RunPreFilterExtensionAddPod(ctx context.Context, state *CycleState, pod *v1.Pod, add *PodInfo, ni *NodeInfo) *Status {
	for name, ext := range f.extensions {
		if state.skipFilter[name] {
			continue
		}
		if s := ext.AddPod(ctx, state, pod, add, ni); !s.IsSuccess() {
			return s.WithPlugin(name)
		}
	}
	return nil
}

// RunPreFilterExtensionRemovePod is the removal counterpart.
func (f *Framework) RunPreFilterExtensionRemovePod(ctx context.Context, state *CycleState, pod *v1.Pod, rm *PodInfo, ni *NodeInfo) *Status {
	for name, ext := range f.extensions {
		if state.skipFilter[name] {
			continue
		}
		if s := ext.RemovePod(ctx, state, pod, rm, ni); !s.IsSuccess() {
			return s.WithPlugin(name)
		}
	}
	return nil
}

// RunPostFilterPlugins runs PostFilter plugins until one succeeds.
func (f *Framework) RunPostFilterPlugins(ctx context.Context, state *CycleState, pod *v1.Pod, st NodeStatuses) (*PostFilterResult, *Status) {
	var last *Status
	for _, pl := range f.postFilter {
		r, s := pl.PostFilter(ctx, state, pod, st)
		if s.IsSuccess() {
			return r, nil
		}
		if s.Code() == Error {
			return nil, s.WithPlugin(pl.Name())
		}
		last = s.WithPlugin(pl.Name())
	}
	if last == nil {
		last = NewStatus(Unschedulable)
	}
	return nil, last
}

// RunPreScorePlugins runs PreScore plugins; Skip disables the plugin's Score.
func (f *Framework) RunPreScorePlugins(ctx context.Context, state *CycleState, pod *v1.Pod, nodes []*NodeInfo) *Status {
	for _, pl := range f.preScore {
		s := pl.PreScore(ctx, state, pod, nodes)
		if s.IsSkip() {
			if state.skipScore == nil {
				state.skipScore = map[string]bool{}
			}
			state.skipScore[pl.Name()] = true
			continue
		}
		if !s.IsSuccess() {
			return s.WithPlugin(pl.Name())
		}
	}
	return nil
}

// RunScorePlugins scores every node with every plugin (in parallel over
// nodes), normalizes, applies weights and writes the totals into totals,
// which must have len(nodes). It reuses internal buffers: not reentrant.
func (f *Framework) RunScorePlugins(ctx context.Context, state *CycleState, pod *v1.Pod, nodes []*NodeInfo, totals []int64) *Status {
	n := len(nodes)
	for i := range totals {
		totals[i] = 0
	}
	if cap(f.scoreBuf) < len(f.score) {
		f.scoreBuf = make([][]NodeScore, len(f.score))
	}
	bufs := f.scoreBuf[:len(f.score)]
	active := make([]bool, len(f.score))
	for j, pl := range f.score {
		active[j] = state.skipScore == nil || !state.skipScore[pl.Name()]
		if cap(bufs[j]) < n {
			bufs[j] = make([]NodeScore, n)
		}
		bufs[j] = bufs[j][:n]
	}
	var errMu sync.Mutex
	var firstErr *Status
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.parallelizer.Until(ctx, n, func(i int) {
		ni := nodes[i]
		for j, pl := range f.score {
			if !active[j] {
				continue
			}
			sc, s := pl.Score(ctx, state, pod, ni)
			if !s.IsSuccess() {
				errMu.Lock()
				if firstErr == nil {
					firstErr = s.WithPlugin(pl.Name())
				}
				errMu.Unlock()
				cancel()
				return
			}
			bufs[j][i] = NodeScore{Name: ni.Name(), Score: sc}
		}
	})
	if firstErr != nil {
		return firstErr
	}
	for j, pl := range f.score {
		if !active[j] {
			continue
		}
		if norm, ok := pl.ScorePlugin.(ScoreNormalizer); ok {
			if s := norm.NormalizeScore(ctx, state, pod, bufs[j]); !s.IsSuccess() {
				return s.WithPlugin(pl.Name())
			}
		}
		for i := range bufs[j] {
			sc := bufs[j][i].Score
			if sc < MinNodeScore || sc > MaxNodeScore {
				return AsStatus(fmt.Errorf("plugin %q returned score %d for node %q, outside [%d, %d]",
					pl.Name(), sc, bufs[j][i].Name, MinNodeScore, MaxNodeScore))
			}
			totals[i] += sc * pl.weight
		}
	}
	return nil
}

// RunReservePluginsReserve reserves in order; on failure the caller must
// call RunReservePluginsUnreserve.
func (f *Framework) RunReservePluginsReserve(ctx context.Context, state *CycleState, pod *v1.Pod, node string) *Status {
	for _, pl := range f.reserve {
		if s := pl.Reserve(ctx, state, pod, node); !s.IsSuccess() {
			return s.WithPlugin(pl.Name())
		}
	}
	return nil
}

// RunReservePluginsUnreserve unreserves in reverse order.
func (f *Framework) RunReservePluginsUnreserve(ctx context.Context, state *CycleState, pod *v1.Pod, node string) {
	for i := len(f.reserve) - 1; i >= 0; i-- {
		f.reserve[i].Unreserve(ctx, state, pod, node)
	}
}

// --- binding cycle ---

// RunPreBindPlugins runs PreBind plugins in order.
func (f *Framework) RunPreBindPlugins(ctx context.Context, state *CycleState, pod *v1.Pod, node string) *Status {
	for _, pl := range f.preBind {
		if s := pl.PreBind(ctx, state, pod, node); !s.IsSuccess() {
			return s.WithPlugin(pl.Name())
		}
	}
	return nil
}

// RunBindPlugins asks binders in order until one does not Skip.
func (f *Framework) RunBindPlugins(ctx context.Context, state *CycleState, pod *v1.Pod, node string) *Status {
	for _, pl := range f.bind {
		s := pl.Bind(ctx, state, pod, node)
		if s.IsSkip() {
			continue
		}
		return s.WithPlugin(pl.Name())
	}
	return NewStatus(Error, "no bind plugin bound the pod")
}

// RunPostBindPlugins informs PostBind plugins.
func (f *Framework) RunPostBindPlugins(ctx context.Context, state *CycleState, pod *v1.Pod, node string) {
	for _, pl := range f.postBind {
		pl.PostBind(ctx, state, pod, node)
	}
}

// --- permit ---

// RunPermitPlugins returns Success, a rejection, or Wait (the pod is then
// registered as waiting and WaitOnPermit blocks until it is resolved).
func (f *Framework) RunPermitPlugins(ctx context.Context, state *CycleState, pod *v1.Pod, node string) *Status {
	timeouts := map[string]time.Duration{}
	for _, pl := range f.permit {
		s, timeout := pl.Permit(ctx, state, pod, node)
		switch {
		case s.Code() == Wait:
			if timeout <= 0 || timeout > 15*time.Minute {
				timeout = 15 * time.Minute // upstream caps waits
			}
			timeouts[pl.Name()] = timeout
		case !s.IsSuccess():
			return s.WithPlugin(pl.Name())
		}
	}
	if len(timeouts) == 0 {
		return nil
	}
	wp := newWaitingPod(pod, timeouts)
	f.waitingMu.Lock()
	f.waiting[string(pod.UID)] = wp
	f.waitingMu.Unlock()
	return NewStatus(Wait)
}

// WaitOnPermit blocks until a waiting pod is allowed or rejected.
func (f *Framework) WaitOnPermit(ctx context.Context, pod *v1.Pod) *Status {
	f.waitingMu.Lock()
	wp := f.waiting[string(pod.UID)]
	f.waitingMu.Unlock()
	if wp == nil {
		return nil
	}
	defer func() {
		f.waitingMu.Lock()
		delete(f.waiting, string(pod.UID))
		f.waitingMu.Unlock()
	}()
	select {
	case s := <-wp.done:
		return s
	case <-ctx.Done():
		return AsStatus(ctx.Err())
	}
}

// WaitingPod implements Handle.
func (f *Framework) WaitingPod(uid string) WaitingPod {
	f.waitingMu.Lock()
	defer f.waitingMu.Unlock()
	if wp, ok := f.waiting[uid]; ok {
		return wp
	}
	return nil
}

type waitingPod struct {
	pod     *v1.Pod
	mu      sync.Mutex
	pending map[string]*time.Timer
	done    chan *Status
}

func newWaitingPod(pod *v1.Pod, timeouts map[string]time.Duration) *waitingPod {
	wp := &waitingPod{pod: pod, pending: map[string]*time.Timer{}, done: make(chan *Status, 1)}
	wp.mu.Lock()
	defer wp.mu.Unlock()
	for name, d := range timeouts {
		wp.pending[name] = time.AfterFunc(d, func() {
			wp.Reject(name, fmt.Sprintf("rejected due to timeout after waiting %v at plugin %v", d, name))
		})
	}
	return wp
}

func (w *waitingPod) Pod() *v1.Pod { return w.pod }

func (w *waitingPod) Allow(plugin string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.pending[plugin]; ok {
		t.Stop()
		delete(w.pending, plugin)
	}
	if len(w.pending) == 0 {
		select {
		case w.done <- nil:
		default:
		}
	}
}

func (w *waitingPod) Reject(plugin, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.pending {
		t.Stop()
	}
	select {
	case w.done <- NewStatus(Unschedulable, msg).WithPlugin(plugin):
	default:
	}
}
