"""The exception tenzip raises for bad input (kept apart so that the extension can create it)."""


class TenzipError(ValueError):
    """A tenzip error: bad, corrupt or truncated data, a checksum mismatch, an unsupported format
    version, or an argument tenzip cannot use.

    ``code`` names the kind, as the C++ ``tenzip::Errc`` does: ``"invalid_argument"``,
    ``"corrupt_input"``, ``"truncated_input"``, ``"checksum_mismatch"``, ``"unsupported_version"``
    or ``"internal"``. I/O failures are ``OSError`` instead.
    """

    def __init__(self, message: str = "", code: str = "invalid_argument"):
        super().__init__(message)
        self.code = code
