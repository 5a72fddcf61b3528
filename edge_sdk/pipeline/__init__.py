"""The build pipeline around the search: tasks, how they run, and the library's build entry point.

    evaluate.py    one task in whatever process runs it: compress -> export -> verify
    executors/     where tasks run: `inline` (this process), `local` (a pool of worker processes), `ray` (a cluster)
    prepare.py     one model checked before any task runs: load, data, analyze, fit, budgets
    build.py       prepare every model -> plan -> search (tasks) -> report, for every (model, target)
"""
