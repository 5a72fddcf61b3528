"""The search policy on its own, with a stand-in executor: what it submits, in what order, and never a
rung twice."""

from __future__ import annotations

from concurrent.futures import Future

from edge_sdk import analyze, get_profile
from edge_sdk.contracts.budgets import Budgets
from edge_sdk.contracts.plan import Candidate, Step
from edge_sdk.contracts.task import TaskError, TaskResult
from edge_sdk.planner.search import SearchSpec, run_search


class Scripted:
    """Returns a preset TaskResult per rung name and records what was submitted."""

    jobs = 1

    def __init__(self, results: dict[str, TaskResult]) -> None:
        self.results, self.submitted = results, []

    def submit(self, task):
        self.submitted.append(task.candidate.name)
        future: Future = Future()
        future.set_result(self.results[task.candidate.name])
        return future

    def cancel(self, future):
        pass

    def close(self):
        pass


def test_the_closest_on_paper_fallback_never_reruns_a_rung_that_failed(digits_loaded):
    profile = get_profile("android")
    ladder = (
        Candidate("fp32", "tflite", "float32", framework="keras"),  # fits on paper, then fails
        Candidate("huge-qat", "tflite", "int8", (Step("qat", {}),), params_scale=500.0, trains=True, framework="keras"),
    )
    failed = TaskResult(error=TaskError("error", "ExportError", "the converter refused it"))
    executor = Scripted({"fp32": failed, "huge-qat": failed})
    spec = SearchSpec(analyze(digits_loaded), profile, ladder, Budgets.from_profile(profile),
                      make_task=lambda cand: type("T", (), {"candidate": cand})())
    result = run_search(spec, executor)
    assert executor.submitted == ["fp32", "huge-qat"], "the failed rung ran once; the fallback built the discarded one"
    statuses = {a.candidate.name: a.status for a in result.attempts}
    assert statuses == {"fp32": "failed", "huge-qat": "failed"} and not result.feasible and result.chosen is None


def test_a_worker_that_finishes_a_speculative_rung_takes_the_next_while_the_current_one_runs(digits_loaded):
    """jobs 2: rung a trains long, b finishes at once; c must start before a ends (the worker freed by b
    would otherwise idle until a's result), and the attempts stay in ladder order."""
    import threading

    profile = get_profile("android")
    ladder = tuple(Candidate(name, "tflite", "float32", framework="keras") for name in ("a", "b", "c"))
    ok = TaskResult(error=TaskError("error", "ExportError", "not the point here"))
    slow: Future = Future()
    c_started_while_a_ran = []

    class TwoWorkers(Scripted):
        jobs = 2

        def submit(self, task):
            name = task.candidate.name
            self.submitted.append(name)
            if name == "a":
                threading.Timer(10.0, lambda: slow.done() or slow.set_result(ok)).start()  # never hang the suite
                return slow
            if name == "c":
                c_started_while_a_ran.append(not slow.done())
                slow.set_result(ok)
            return _done(ok)

    def _done(result):
        future: Future = Future()
        future.set_result(result)
        return future

    spec = SearchSpec(analyze(digits_loaded), profile, ladder, Budgets.from_profile(profile),
                      make_task=lambda cand: type("T", (), {"candidate": cand})(), mode="pareto")
    result = run_search(spec, TwoWorkers({}))
    assert c_started_while_a_ran == [True]
    assert [a.candidate.name for a in result.attempts] == ["a", "b", "c"]
