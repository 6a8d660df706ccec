"""Where the runner keeps its state in a project: each path named once, here.

All are relative to the project root, with `/` separators (`root / CACHE_DIR` works on
every platform). Messages show them as they are spelled here.
"""

# the stage graph, under the project root, unless -g or $PIPELINE_GRAPH names another
DEFAULT_GRAPH = "pipeline/stage-graph.json"
# run records, JSONL event logs and stage logs (ledger.py); other tools may write here too
RUNS_DIR = ".pipeline-runs"
# one run at a time per project (lock.py)
LOCK_FILE = f"{RUNS_DIR}/.lock"
# what can be computed again, so may be deleted at any time: the validated graph
# (graph/read.py), the imports each script makes (imports.py) and file digests (digest.py)
CACHE_DIR = f"{RUNS_DIR}/.cache"
IMPORTS_CACHE = f"{CACHE_DIR}/imports.json"
# the fast path's stamps, one per selection (fastpath.py)
FAST_PATH_DIR = f"{CACHE_DIR}/fast-path"
DIGESTS_CACHE = f"{CACHE_DIR}/digests.json"
# doit's saved task state, shared by `pipeline run` and `doit run` (engine.py)
STATE_DB = ".doit.db"
