"""The stage graph: read a graph file (JSON or YAML), validate it, freeze it.

- `model.py`: the frozen dataclasses (`Graph`, `Stage`, `Artifact`, ...) and the rules
  that belong to the data itself, such as what a stage's scripts are;
- `read.py`: from file to `Graph`: parsing, size and alias limits, the validated-graph
  cache, freezing;
- `validate.py`: the JSON Schema check, then one function per rule of meaning.

Everything here is pure data: no process is started, and nothing is written but the
graph cache. Import from this package, not from its modules.
"""

from orchestrator.graph.model import (
    DEFAULT_PIPELINE,
    HOOK_MOMENTS,
    NO_HOOKS,
    OUTSIDE_WORLD_EFFECTS,
    Artifact,
    Command,
    EnvVar,
    Graph,
    Hook,
    Hooks,
    Input,
    Output,
    Pipeline,
    SideEffect,
    Stage,
    did_you_mean,
    interpreter_program,
    missing_script,
    parse_age,
    script_arguments,
    script_path,
)
from orchestrator.graph.read import (
    DEFAULT_GRAPH,
    MAX_VALUES,
    display_path,
    load_graph,
    resolve_graph_path,
)
from orchestrator.graph.validate import MAX_PROBLEMS, graph_schema, location

__all__ = [
    "DEFAULT_GRAPH", "DEFAULT_PIPELINE", "HOOK_MOMENTS", "MAX_PROBLEMS", "MAX_VALUES",
    "NO_HOOKS", "OUTSIDE_WORLD_EFFECTS", "Artifact", "Command", "EnvVar", "Graph", "Hook",
    "Hooks", "Input", "Output", "Pipeline", "SideEffect", "Stage", "did_you_mean",
    "display_path", "graph_schema", "interpreter_program", "load_graph", "location",
    "missing_script", "parse_age",
    "resolve_graph_path", "script_arguments", "script_path",
]
