"""The build pipeline around the search: tasks, how they run, and the library's build entry point.

    evaluate.py    one task in whatever process runs it: compress -> export -> verify
    executors/     where tasks run: `inline` (this process) and `local` (a pool of worker processes)
    build.py       load -> analyze -> check -> plan -> search (tasks) -> report, for every target
"""
