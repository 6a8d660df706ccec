from orchestrator.dodo import *  # noqa: F401,F403  (the stage graph's tasks for doit)
