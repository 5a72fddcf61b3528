"""User-facing errors. The CLI catches only `EdgeSDKError`: its message is printed as one line and the
process exits 2 (bad usage or input). Anything else is an internal error with a traceback."""


class EdgeSDKError(Exception):
    """Base of every error caused by the user's input, files or devices."""

    exit_code = 2


class ProfileError(EdgeSDKError):
    """A device profile is missing, malformed or names an unknown field."""


class ModelLoadError(EdgeSDKError):
    """A model file is missing, corrupt, of an unknown format, or uses a layer we cannot load."""


class DataError(EdgeSDKError):
    """Calibration, training or eval data does not match the model's inputs."""


class UnsupportedOpError(EdgeSDKError):
    """The model uses an op or dtype the target runtime cannot run."""


class BudgetError(EdgeSDKError):
    """A budget value is malformed (not: a budget was missed; that is exit 3, not an error)."""


class ConfigError(EdgeSDKError):
    """edge-sdk.yaml, a plan file or a step config is malformed."""


class ExportError(EdgeSDKError):
    """A converter refused the model in a way the user can act on."""


class VerificationError(EdgeSDKError):
    """An exported artifact missed its fidelity tolerance on its runtime."""


class DeviceError(EdgeSDKError):
    """A device or transport failed: unreachable, timed out, disconnected, or bad output."""


class MissingDependencyError(EdgeSDKError):
    """An optional framework (extra) is not installed."""


class ReportError(EdgeSDKError):
    """A report.json (or a build output dir given to `edge-sdk compare`) is missing or malformed."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type name): what a one-line error quotes from a
    library's multi-line message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
