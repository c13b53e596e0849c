"""The one error root of the ``shared`` package."""


class SharedError(Exception):
    """Root of every error raised by ``shared``."""


class InvalidNik(SharedError, ValueError):
    """A NIK that cannot be real; ``code`` says why, ``message`` says it in Bahasa Indonesia."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidPin(SharedError, ValueError):
    """A PIN that is not exactly eight digits; ``message`` says so in Bahasa Indonesia."""

    def __init__(self, message: str = "PIN harus tepat 8 angka.") -> None:
        super().__init__(message)
        self.message = message
