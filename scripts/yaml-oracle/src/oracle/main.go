// Prints, per file named on the command line, one JSON line: what yaml.v3
// makes of it as an Intercept policy (the load error text, or the decoded
// config in a canonical typed form).
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
	"oracle/config"
)

func value(v interface{}) interface{} {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("bool:%v", x)
	case int:
		return fmt.Sprintf("int:%d", x)
	case uint64:
		return fmt.Sprintf("uint:%d", x)
	case float64:
		if math.IsNaN(x) {
			return "float:NaN"
		}
		return fmt.Sprintf("float:%v", x)
	case string:
		return "str:" + x
	case time.Time:
		return "time:" + x.String()
	case []interface{}:
		out := []interface{}{}
		for _, e := range x {
			out = append(out, value(e))
		}
		return out
	case map[string]interface{}:
		keys := []string{}
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := []interface{}{}
		for _, k := range keys {
			out = append(out, []interface{}{k, value(x[k])})
		}
		return map[string]interface{}{"map": out}
	default:
		return fmt.Sprintf("other:%T:%v", v, v)
	}
}

func canonical(c *config.Config) interface{} {
	names := []string{}
	for k := range c.Tools {
		names = append(names, k)
	}
	sort.Strings(names)
	tools := []interface{}{}
	for _, n := range names {
		rules := []interface{}{}
		for _, r := range c.Tools[n].Rules {
			conds := []interface{}{}
			for _, cd := range r.Conditions {
				conds = append(conds, []interface{}{cd.Path, cd.Op, value(cd.Value)})
			}
			var state interface{}
			if r.State != nil {
				state = []interface{}{r.State.Counter, r.State.Window, r.State.Increment, r.State.IncrementFrom}
			}
			rules = append(rules, []interface{}{r.Name, r.Action, r.RateLimit, conds, r.OnDeny, state})
		}
		tools = append(tools, []interface{}{n, rules})
	}
	hide := c.Hide
	if hide == nil {
		hide = []string{}
	}
	return []interface{}{c.Version, c.Description, c.Default, hide, tools}
}

func main() {
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, path := range os.Args[1:] {
		out := map[string]interface{}{"file": path}
		data, err := os.ReadFile(path)
		if err != nil {
			out["error"] = "reading config file: " + err.Error()
		} else {
			var c config.Config
			if err := yaml.Unmarshal(data, &c); err != nil {
				out["error"] = "parsing config file: " + err.Error()
			} else {
				out["config"] = canonical(&c)
			}
		}
		enc.Encode(out)
	}
}
