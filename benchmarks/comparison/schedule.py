"""Which runs to start, in what order, and how many at once (``--jobs``).

Runs without a record start, each in its own process (``runner.launch``), up to ``plan.jobs``
at a time. The parent waits, writes each finished run's record and rebuilds the report; only
this parent thread writes files, the worker threads just wait for their child processes.
"""

import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime, timezone

from .records import load_records, write_json_atomic
from .report import duration
from .resume import resume_note
from .runner import RunBusy, RunFailed, launch, stop_running_children


def planned_runs(plan):
    """Seed-major order: every model of a seed before the next seed, so pairs finish early."""
    return [(model, seed) for seed in plan.seeds for model in plan.models]


def start_order(plan):
    """Seed-major. With several jobs, each seed's longest runs (those that train an S2IDM)
    start first, so that a short run fills the gap and pairs still finish seed by seed."""
    if plan.jobs == 1:
        return planned_runs(plan)
    from recbole_seedrec.registry import get_model

    from .protocols import trains_s2idm

    longer = [model for model in plan.models if trains_s2idm(get_model(model))]
    models = longer + [model for model in plan.models if model not in longer]
    return [(model, seed) for seed in plan.seeds for model in models]


def threads_per_run(threads, jobs):
    """``--threads`` when given; with several jobs, the cores shared out (no oversubscription)."""
    if threads or jobs == 1:
        return threads
    return max(1, len(os.sched_getaffinity(0)) // jobs)


def run_all(plan, failed, write):
    """Run what has no record yet; ``write(failed)`` rebuilds the report after each run."""
    todo = start_order(plan)
    index_of = {run: index for index, run in enumerate(todo, start=1)}
    start, durations = time.perf_counter(), {}
    for record in load_records(plan.layout.runs):
        durations.setdefault(record["model"], []).append(record["wall_s"])
    pending = []
    for model, seed in todo:
        path = plan.layout.record(model, seed)
        if path.exists():
            print(f"{_prefix(index_of, todo, model, seed)}: already done ({path})", flush=True)
        else:
            pending.append((model, seed))
    running = {}
    with ThreadPoolExecutor(max_workers=plan.jobs, thread_name_prefix="run") as pool:
        try:
            while pending or running:
                while pending and len(running) < plan.jobs:
                    model, seed = pending.pop(0)
                    work_dir = plan.layout.work_dir(model, seed)
                    spec = plan.spec(model, seed)
                    resumes = resume_note(spec, ", resuming after epoch {epoch}")
                    print(
                        f"{_prefix(index_of, todo, model, seed)} running{resumes} "
                        f"(log: {work_dir / 'output.log'})",
                        flush=True,
                    )
                    future = pool.submit(launch, spec, work_dir, plan.keep_checkpoints)
                    running[future] = (model, seed)
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    model, seed = running.pop(future)
                    prefix = _prefix(index_of, todo, model, seed)
                    if _settle(plan, future, (model, seed), prefix, failed, durations):
                        left = estimate_left(pending + list(running.values()), durations, plan)
                        print(
                            f"{prefix} done in {duration(durations[model][-1])}; elapsed "
                            f"{duration(time.perf_counter() - start)}, ~{left} left",
                            flush=True,
                        )
                        write(failed)
        except BaseException:  # Ctrl-C or SIGTERM: no run may outlive the command
            stop_running_children()
            raise


def _settle(plan, future, run, prefix, failed, durations):
    """Record a finished run (True), or report why it has no record (False)."""
    model, seed = run
    try:
        result = future.result()
    except RunBusy as busy:
        print(f"{prefix}: skipped, {busy}; rerun this command after it ends", flush=True)
        return False
    except RunFailed as failure:
        failed.append(f"{model} seed {seed} ({failure})")
        kept = resume_note(
            plan.spec(model, seed), "; its state after epoch {epoch} is kept: rerun to resume"
        )
        print(
            f"{prefix} FAILED after {duration(failure.wall_s)} ({failure}); "
            f"log: {failure.log_path}{kept}",
            flush=True,
        )
        return False
    write_json_atomic(plan.layout.record(model, seed), finished_record(plan, result))
    durations.setdefault(model, []).append(result["wall_s"])
    return True


def _prefix(index_of, todo, model, seed):
    return f"[{index_of[(model, seed)]}/{len(todo)}] {model} seed {seed}"


def finished_record(plan, result):
    return {
        **result,
        "data": plan.data,
        "protocol": plan.protocol,
        "quick": plan.quick,
        "fingerprint": plan.fingerprint_for(result["model"]),
        "inputs": plan.inputs_for(result["model"]),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def estimate_left(remaining, durations, plan):
    """Each remaining or running run at its model's mean duration so far (any model's when
    unknown), shared out over the jobs."""
    remaining = [(m, s) for m, s in remaining if not plan.layout.record(m, s).exists()]
    if not remaining:
        return "0s"
    known = [d for ds in durations.values() for d in ds]
    if not known:
        return "?"
    overall = sum(known) / len(known)
    total = 0.0
    for model, _ in remaining:
        own = durations.get(model)
        total += sum(own) / len(own) if own else overall
    return duration(total / min(plan.jobs, len(remaining)))
