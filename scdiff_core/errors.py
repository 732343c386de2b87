"""User-facing errors.

Every problem a user can cause (bad data, bad arguments, a damaged checkpoint) is raised as a
:class:`ScdiffError` whose message says what went wrong *and what to do*. Front ends (CLI, app)
catch this one type and show the message without a traceback.
"""


class ScdiffError(Exception):
    """A problem with the user's input, with a message that says how to fix it."""


class DataError(ScdiffError):
    """The data cannot be used as given (wrong kind of values, missing labels, ...)."""


class CheckpointError(ScdiffError):
    """A checkpoint is missing, incompatible, or fails its integrity check."""
