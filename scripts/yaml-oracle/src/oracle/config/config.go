// Package config mirrors the shape of Intercept's policy structs (from the
// semantics reference): the type names appear in yaml.v3's error texts.
package config

type Config struct {
	Version     string             `yaml:"version"`
	Description string             `yaml:"description"`
	Default     string             `yaml:"default"`
	Hide        []string           `yaml:"hide"`
	Tools       map[string]ToolDef `yaml:"tools"`
}

type ToolDef struct {
	Rules []Rule `yaml:"rules"`
}

type Rule struct {
	Name       string      `yaml:"name"`
	Action     string      `yaml:"action"`
	RateLimit  string      `yaml:"rate_limit"`
	Conditions []Condition `yaml:"conditions"`
	OnDeny     string      `yaml:"on_deny"`
	State      *StateDef   `yaml:"state"`
}

type Condition struct {
	Path  string      `yaml:"path"`
	Op    string      `yaml:"op"`
	Value interface{} `yaml:"value"`
}

type StateDef struct {
	Counter       string `yaml:"counter"`
	Window        string `yaml:"window"`
	Increment     int    `yaml:"increment"`
	IncrementFrom string `yaml:"increment_from"`
}
