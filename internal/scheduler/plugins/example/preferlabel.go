// Package example shows how to write and register a custom score plugin.
//
// A plugin is a type with a Name method plus the extension-point methods it
// wants (here only Score); a Factory builds it from its JSON args. To use
// it, add it to the registry passed to the scheduler and enable it in the
// configuration file:
//
//	s, err := scheduler.New(client, scheduler.Options{
//		ConfigFile: "/etc/skiff/scheduler.yaml",
//		Registry:   framework.Registry{example.PreferLabelName: example.New},
//	})
//
//	# /etc/skiff/scheduler.yaml
//	apiVersion: kubescheduler.config.k8s.io/v1
//	kind: KubeSchedulerConfiguration
//	profiles:
//	- schedulerName: default-scheduler
//	  plugins:
//	    score:
//	      enabled:
//	      - name: PreferLabel
//	        weight: 5
//	  pluginConfig:
//	  - name: PreferLabel
//	    args:
//	      label: disktype
//	      value: ssd
//
// Scores must end in [0, 100] (implement framework.ScoreNormalizer if the
// raw values are on another scale); Score is called concurrently, so keep
// it free of shared mutable state.
package example

import (
	"context"
	"encoding/json"
	"errors"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// PreferLabelName is the name used in configuration.
const PreferLabelName = "PreferLabel"

// Args configure PreferLabel: prefer nodes carrying Label (with Value, if
// given).
type Args struct {
	Label string `json:"label"`
	Value string `json:"value,omitempty"`
}

// PreferLabel scores 100 for nodes with the label, 0 otherwise.
type PreferLabel struct{ args Args }

// New is the plugin's Factory.
func New(raw json.RawMessage, _ framework.Handle) (framework.Plugin, error) {
	var a Args
	if err := framework.DecodeArgs(raw, &a); err != nil {
		return nil, err
	}
	if a.Label == "" {
		return nil, errors.New("label: required")
	}
	return &PreferLabel{args: a}, nil
}

// Name implements framework.Plugin.
func (*PreferLabel) Name() string { return PreferLabelName }

// Score implements framework.ScorePlugin.
func (p *PreferLabel) Score(_ context.Context, _ *framework.CycleState, _ *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := ni.Node().Labels[p.args.Label]
	if ok && (p.args.Value == "" || v == p.args.Value) {
		return framework.MaxNodeScore, nil
	}
	return 0, nil
}
