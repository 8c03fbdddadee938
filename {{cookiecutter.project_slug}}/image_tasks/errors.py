"""The one error type the tasks raise for problems a user can fix."""


class TaskError(Exception):
    """A problem the user can fix, explained in one paragraph that says what to do.

    Front doors print the message and exit non-zero, without a traceback. The message must never
    contain a secret.
    """
