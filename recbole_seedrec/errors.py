"""The errors a user can cause, and the one way every command reports them.

A user mistake ends a command with one line on stderr and exit status 2:

    error: <where>: <what>. <fix>

``where`` names the option, file or field; ``what`` says what is wrong with it; ``fix`` says what
to do. Nothing below this module prints a traceback for such a mistake.
"""

import sys


class UserError(ValueError):
    """A mistake in what the user asked for: an option, a file, a field.

    Args:
        where: the option (``--prompt_num``), file or field at fault.
        what: what is wrong with it.
        fix: what to do instead (optional).
    """

    def __init__(self, where, what=None, fix=None):
        if what is None:  # one preformatted message (the older call style)
            message = str(where)
        else:
            message = f"{where}: {what.rstrip('.')}." + (f" {fix}" if fix else "")
        super().__init__(message)
        self.where, self.what, self.fix = where, what, fix


class ConfigError(UserError):
    """A configuration that cannot work, with the option to change."""


def report(error, stream=None):
    """Write ``error`` as the command's one line (``error: ...``)."""
    message = " ".join(str(error).split("\n")[0:1]) if str(error) else type(error).__name__
    rest = str(error).split("\n")[1:]
    print(f"error: {message}", file=stream or sys.stderr)
    for line in rest:  # lists that follow the line (e.g. the known models), never a traceback
        print(f"  {line}", file=stream or sys.stderr)


def exit_with(error, status=2):
    """Report ``error`` and leave with ``status`` (2: the usage was wrong)."""
    report(error)
    raise SystemExit(status)
