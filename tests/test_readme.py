"""The README's two set-up commands are the ones CI and users run."""

import re

from recbole_seedrec.registry import get_model
from tests.conftest import REPO


def _setup_commands():
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)
    return [next(l for l in b.splitlines() if l and not l.startswith("#")) for b in blocks[:2]]


def test_ci_runs_the_readme_test_command():
    _, test_command = _setup_commands()
    assert "pytest" in test_command
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_readme_run_command_names_a_model_that_exists():
    run_command, _ = _setup_commands()
    model = re.search(r"--model (\w+)", run_command).group(1)
    assert get_model(model).__name__ == model
    assert "pip install torch==2.13.0" in run_command  # never an open torch range
