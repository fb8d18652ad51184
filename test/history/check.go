package history

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// Timeout bounds the porcupine search; default 1 minute. A search
	// that runs out of time is reported as not linearizable.
	Timeout time.Duration
	// VisualizationPath, when set, receives porcupine's HTML
	// visualization if the history is not linearizable.
	VisualizationPath string
}

// Result is the outcome of a linearizability check.
type Result struct {
	Operations   int      // operations checked
	Linearizable bool     // proven linearizable
	TimedOut     bool     // the search ran out of time
	FailedKeys   []string // keys whose operations cannot be linearized
	Description  string   // readable explanation when not linearizable
	// Visualization is the path of the written HTML, if any.
	Visualization string
}

// registerInput and registerOutput are per-key porcupine operations.
type registerInput struct {
	put   bool
	value string // put: value written
}

type registerOutput struct {
	value   string // get: value read, "" when absent
	unknown bool   // put: failed, may have applied
}

// registerModel is a single register per key; "" means absent. Values
// are unique per write, so equal values mean the same write.
var registerModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in, out := input.(registerInput), output.(registerOutput)
		if in.put {
			return true, in.value
		}
		return out.value == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(registerInput), output.(registerOutput)
		switch {
		case in.put && out.unknown:
			return fmt.Sprintf("put(%q) -> ?", in.value)
		case in.put:
			return fmt.Sprintf("put(%q)", in.value)
		case out.value == "":
			return "get() -> none"
		default:
			return fmt.Sprintf("get() -> %q", out.value)
		}
	},
	DescribeState: func(state interface{}) string {
		if state.(string) == "" {
			return "none"
		}
		return fmt.Sprintf("%q", state)
	},
	DescribeOperationMetadata: func(info interface{}) string { return info.(meta).op.String() },
}

// partitionByKey groups operations by key, in key order.
func partitionByKey(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, o := range ops {
		k := o.Metadata.(meta).op.Key
		byKey[k] = append(byKey[k], o)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// meta ties a porcupine operation to its recorded op.
type meta struct {
	id int
	op Op
}

// toPorcupine converts ops; a failed Put never returns, so it may take
// effect at any point after its call. A failed Put whose value no Get
// returned is left out: leaving out a write nobody read changes no read's
// result (registers are only overwritten), so the history is linearizable
// with it exactly when it is without it. That keeps the search small when
// a fault fails hundreds of writes, as NOSPACE does.
func toPorcupine(ops []Op) []porcupine.Operation {
	read := map[string]bool{} // key + "\x00" + value of every successful Get
	for _, o := range ops {
		if o.Kind == Get && o.Found {
			read[o.Key+"\x00"+o.Value] = true
		}
	}
	out := make([]porcupine.Operation, 0, len(ops))
	for i, o := range ops {
		if o.MaybeApplied() && !read[o.Key+"\x00"+o.Value] {
			continue
		}
		p := porcupine.Operation{
			ClientId: o.Client,
			Input:    registerInput{put: o.Kind == Put, value: o.Value},
			Call:     int64(o.Call),
			Output:   registerOutput{value: o.Value, unknown: o.MaybeApplied()},
			Return:   int64(o.Return),
			Metadata: meta{id: i, op: o},
		}
		if o.Kind == Put {
			p.Output = registerOutput{unknown: o.MaybeApplied()}
		}
		if o.MaybeApplied() {
			p.Return = math.MaxInt64
		}
		out = append(out, p)
	}
	return out
}

// Check checks h for linearizability against a per-key register.
func Check(h History, opts CheckOptions) (Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	ops := toPorcupine(h.Ops)
	res := Result{Operations: len(ops)}
	verdict, info := porcupine.CheckOperationsVerbose(registerModel, ops, opts.Timeout)
	switch verdict {
	case porcupine.Ok:
		res.Linearizable = true
		return res, nil
	case porcupine.Unknown:
		res.TimedOut = true
		res.Description = fmt.Sprintf("linearizability check of %d operations ran out of time after %v", len(ops), opts.Timeout)
		return res, nil
	}
	res.FailedKeys, res.Description = describeFailure(partitionByKey(ops), info.PartialLinearizationsOperations())
	if opts.VisualizationPath != "" {
		if err := porcupine.VisualizePath(registerModel, info, opts.VisualizationPath); err != nil {
			return res, fmt.Errorf("writing porcupine visualization to %s: %w", opts.VisualizationPath, err)
		}
		res.Visualization = opts.VisualizationPath
	}
	return res, nil
}

// describeFailure names each key whose operations could not all be
// linearized, with the longest linearizable prefix's end state and the
// operations that never fit.
func describeFailure(parts [][]porcupine.Operation, partials [][][]porcupine.Operation) ([]string, string) {
	var keys []string
	var b strings.Builder
	for i, part := range parts {
		longest := []porcupine.Operation{}
		for _, p := range partials[i] {
			if len(p) > len(longest) {
				longest = p
			}
		}
		if len(longest) == len(part) {
			continue
		}
		key := part[0].Metadata.(meta).op.Key
		keys = append(keys, key)
		state := ""
		for _, o := range longest {
			_, next := registerModel.Step(state, o.Input, o.Output)
			state = next.(string)
		}
		fmt.Fprintf(&b, "key %s: at most %d of %d operations linearize; state after them: %s\n",
			key, len(longest), len(part), registerModel.DescribeState(state))
		placed := map[int]bool{}
		for _, p := range partials[i] {
			for _, o := range p {
				placed[o.Metadata.(meta).id] = true
			}
		}
		shown := 0
		for _, o := range part {
			if placed[o.Metadata.(meta).id] {
				continue
			}
			if shown == 5 {
				b.WriteString("  ...\n")
				break
			}
			fmt.Fprintf(&b, "  cannot place: %s\n", o.Metadata.(meta).op)
			shown++
		}
	}
	return keys, strings.TrimRight(b.String(), "\n")
}
