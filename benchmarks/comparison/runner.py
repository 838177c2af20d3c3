"""One (model, seed) run in its own Python process.

Isolation: a run cannot leak memory, threads or global state (RecBole's seeds, autograd flags)
into the next one, and the process's own peak resident memory is that run's, exactly: the
parent reads it from ``os.wait4``. The child trains through this package's entry-point
functions (``prepare_data``, ``build_model_and_trainer``), selects on validation, evaluates the
best epoch on test once, and writes what it measured to a JSON file; the parent adds wall time
and peak memory and writes the run's record.

Child: ``python -m comparison.runner SPEC.json RESULT.json`` (``benchmarks/`` on PYTHONPATH).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import BENCHMARKS_DIR
from .records import read_json, write_json_atomic
from .resume import EpochResume, resumable_epoch

# ----- parent side ----------------------------------------------------------------------------


class RunFailed(RuntimeError):
    """The run's process ended without a result; the message is the last line of its log."""

    def __init__(self, message, wall_s, log_path):
        super().__init__(message)
        self.wall_s, self.log_path = wall_s, log_path


class RunBusy(RunFailed):
    """Another process is running this (model, seed) in the same work folder."""

    def __init__(self, pid, log_path):
        super().__init__(f"running in process {pid}", 0.0, log_path)
        self.pid = pid


@contextlib.contextmanager
def claim(work_dir):
    """Hold ``work_dir`` for this process (``running.pid``): two comparisons given the same
    ``--out`` must not run one (model, seed) at once, since they would share its log and
    checkpoints. A claim left by a process that no longer runs is taken over, and so is one
    made before the machine last started (its process number may now be another's)."""
    lock = Path(work_dir) / "running.pid"
    while True:
        try:
            with open(lock, "x", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {_boot_id()}")
            break
        except FileExistsError:
            holder = _holder_in(lock)
            if holder is not None and _alive(holder):
                raise RunBusy(holder, Path(work_dir) / "output.log") from None
            lock.unlink(missing_ok=True)  # stale: its process ended without releasing it
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _boot_id():
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="utf-8").strip()
    except OSError:  # not Linux: process numbers alone
        return ""


def _holder_in(path):
    """The claiming process, if it claimed since this machine started."""
    try:
        pid, _, boot = path.read_text(encoding="utf-8").strip().partition(" ")
        return int(pid) if boot == _boot_id() else None
    except (OSError, ValueError):
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def stop_on_sigterm():
    """Make SIGTERM (``kill``, a job scheduler's stop) an interrupt, as Ctrl-C is: the running
    child is terminated, the report is written and the command says how to resume."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


_children = set()  # the run processes this process waits for (several under --jobs)
_children_lock = threading.Lock()


def stop_running_children():
    """Terminate every run this process started and still waits for (its own thread then
    sees the run fail and returns)."""
    with _children_lock:
        children = list(_children)
    for child in children:
        child.terminate()


def launch(spec, work_dir, keep_checkpoints=False):
    """Run ``spec`` in a child process inside ``work_dir``; return its measurements, with the
    child's wall time (start-up and data loading included) and peak resident memory."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    with claim(work_dir):
        return _launch(spec, work_dir, keep_checkpoints)


def _launch(spec, work_dir, keep_checkpoints):
    spec_path, result_path = work_dir / "spec.json", work_dir / "result.json"
    log_path = work_dir / "output.log"
    resuming = resumable_epoch(spec) is not None  # keep the earlier segments' log
    write_json_atomic(spec_path, spec)
    if result_path.exists():
        result_path.unlink()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCHMARKS_DIR), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "comparison.runner", str(spec_path), str(result_path)]
    start = time.perf_counter()
    with open(log_path, "a" if resuming else "w", encoding="utf-8") as log:
        child = subprocess.Popen(
            command, cwd=work_dir, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        with _children_lock:
            _children.add(child)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:  # Ctrl-C reaches the child too; do not leave it behind
            child.terminate()
            child.wait()
            raise
        finally:
            with _children_lock:
                _children.discard(child)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall_s = time.perf_counter() - start
    if child.returncode != 0 or not result_path.is_file():
        raise RunFailed(f"exit {child.returncode}: {_last_line(log_path)}", wall_s, log_path)
    result = read_json(result_path)
    result_path.unlink()
    if not keep_checkpoints:
        shutil.rmtree(spec["config_dict"]["checkpoint_dir"], ignore_errors=True)
    earlier = result.get("resumed") or {"wall_s": 0.0, "peak_rss_mib": 0.0}
    result["wall_s"] = earlier["wall_s"] + wall_s  # the work lost after a last save is not counted
    result["peak_rss_mib"] = max(earlier["peak_rss_mib"], usage.ru_maxrss / 1024)  # Linux: KiB
    return result


def _last_line(path):
    lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


# ----- child side -----------------------------------------------------------------------------


class StageClock:
    """Times a run's stages by wrapping the trainer's and model's own methods: each training
    epoch (with its loss), the S2IDM stage, and the interest cache (S2IDM's reverse pass over
    every prefix)."""

    def __init__(self, trainer, model):
        self.epochs_s, self.train_loss = [], []
        self.s2idm_train_s, self.interest_cache_s = None, None
        self._wrap(trainer, "_train_epoch", self._add_epoch)
        if hasattr(trainer, "train_s2idm"):
            self._wrap(trainer, "train_s2idm", lambda s, _: setattr(self, "s2idm_train_s", s))
        if hasattr(model, "build_interest_cache"):
            self._wrap(model, "build_interest_cache", self._add_cache_time)

    @staticmethod
    def _wrap(owner, name, record):
        method = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = method(*args, **kwargs)
            record(time.perf_counter() - start, result)
            return result

        setattr(owner, name, timed)

    def _add_epoch(self, seconds, loss):
        self.epochs_s.append(seconds)
        self.train_loss.append(float(sum(loss) if isinstance(loss, tuple) else loss))

    def _add_cache_time(self, seconds, _):
        self.interest_cache_s = (self.interest_cache_s or 0.0) + seconds


def parameter_counts(model):
    """Trainable and frozen parameters after training (S2IDM is frozen after its stage)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    s2idm = getattr(model, "s2idm", None)
    return {
        "trainable": trainable,
        "frozen": frozen,
        "s2idm": sum(p.numel() for p in s2idm.parameters()) if s2idm is not None else None,
    }


def train_and_evaluate(spec):
    """Train with validation-based selection, then evaluate the best epoch on test once."""
    import torch

    from recbole_seedrec import Config, build_run, evaluate_on_test, fit_run
    from recbole_seedrec.protocol import OPTION as PROTOCOL_OPTION
    from recbole_seedrec.protocol import describe_protocol

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    started = time.perf_counter()
    config_dict = dict(spec["config_dict"])
    if spec.get("few_shot_max_sememes") is not None:
        config_dict["few_shot_max_sememes"] = spec["few_shot_max_sememes"]
    if spec.get("protocol"):  # its settings are in config_dict already; this names them
        config_dict[PROTOCOL_OPTION] = spec["protocol"]
    config = Config(
        spec["model"],
        spec["data"],
        spec["config_files"] or None,
        config_dict,
        cmd_args=spec["overrides"],
    )
    data_s = None

    def data_ready(*_):
        nonlocal data_s
        data_s = time.perf_counter() - started

    run = build_run(config, before_model=data_ready)
    model, trainer = run.model, run.trainer
    clock = StageClock(trainer, model)
    best = {"epoch": None}
    resume = EpochResume(spec, trainer, run.train_data, clock, best, started)
    resume.restore()

    def after_validation(epoch_idx, valid_score):
        if trainer.cur_step == 0:  # early_stopping resets the counter on an improvement
            best["epoch"] = epoch_idx
        resume.save(epoch_idx)

    resume.fit_started = start = time.perf_counter()
    best_score, best_valid = fit_run(run, saved=True, callback_fn=after_validation)
    fit_s = resume.earlier["fit_s"] + time.perf_counter() - start
    start = time.perf_counter()
    test, few = evaluate_on_test(run, load_best_model=True)
    test_s = time.perf_counter() - start
    result = {
        "model": spec["model"],
        "seed": spec["seed"],
        "protocol": describe_protocol(config),
        "valid": {key: float(value) for key, value in (best_valid or {}).items()},
        "test": {key: float(value) for key, value in (test or {}).items()},
        "best_valid_score": float(best_score),
        "best_epoch": best["epoch"],
        "epochs_run": len(clock.epochs_s),
        "train_epoch_s": clock.epochs_s,
        "train_loss": clock.train_loss,
        "s2idm_train_s": clock.s2idm_train_s,
        "interest_cache_s": clock.interest_cache_s,
        "data_s": data_s,
        "fit_s": fit_s,
        "test_s": test_s,
        "parameters": parameter_counts(model),
        "s2idm_transfer": getattr(model, "s2idm_transfer", None),  # a cross-domain S2IDM's overlap
        "torch_threads": torch.get_num_threads(),
        "device": str(config["device"]),
        "config": dict(config.final_config_dict),
        "model_file": trainer.saved_model_file,
        "resumed": resume.summary(),
        "test_audit": getattr(trainer, "test_audit", None) or None,
    }
    resume.discard()
    if few is not None:
        result["few_shot"] = {str(few["max_sememes"]): few_shot_entry(few, test, "run")}
    return result


def few_shot_entry(few, test, source, checkpoint=None):
    """A record's few-shot result for one threshold: the subset's metrics and the full set's
    of the same evaluation, with where they come from (the run, or its checkpoint later)."""
    subset = few["test_result"]
    return {
        "max_sememes": few["max_sememes"],
        "users": few["users"],
        "test_users": few["test_users"],
        "test": {key: float(value) for key, value in (test or {}).items()},
        "test_few_shot": None if subset is None else {k: float(v) for k, v in subset.items()},
        "source": source,
        "checkpoint": checkpoint,
    }


def evaluate_saved(spec):
    """A finished run's checkpoint on test again, with few-shot users (``spec["checkpoint"]``)."""
    import torch

    from recbole_seedrec import evaluate_checkpoint_report

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    threshold = spec["few_shot_max_sememes"]
    updates = {"few_shot_max_sememes": threshold, "data_path": spec["config_dict"]["data_path"]}
    config, test, few = evaluate_checkpoint_report(spec["checkpoint"], updates)
    if (config["model"], config["seed"]) != (spec["model"], spec["seed"]):
        raise RuntimeError(
            f"{spec['checkpoint']} is a checkpoint of {config['model']} seed {config['seed']}, "
            f"not of {spec['model']} seed {spec['seed']}"
        )
    entry = few_shot_entry(few, test, "checkpoint", spec["checkpoint"])
    return {"model": spec["model"], "seed": spec["seed"], "few_shot": {str(threshold): entry}}


def main(argv=None):
    spec_path, result_path = sys.argv[1:] if argv is None else argv
    import recbole_seedrec  # noqa: F401  (RecBole 1.2.1 shims before anything else)

    spec = read_json(spec_path)
    work = evaluate_saved if spec.get("checkpoint") else train_and_evaluate
    write_json_atomic(result_path, work(spec))


if __name__ == "__main__":
    main()
