"""The one error root of the ``shared`` package."""


class SharedError(Exception):
    """Root of every error raised by ``shared``."""


class InvalidNik(SharedError, ValueError):
    """A NIK that cannot be real; ``code`` says why, ``message`` says it in Bahasa Indonesia."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
