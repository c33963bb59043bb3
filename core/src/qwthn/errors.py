"""Errors a user can act on: each message is one line naming the problem and the fix."""


class QwthnError(Exception):
    """A problem with the user's input or environment (shown without a traceback by the CLI)."""


class BackendNotFoundError(QwthnError, LookupError):
    """No installed backend plugin answers to the requested name."""


class PluginValidationError(QwthnError):
    """A plugin does not follow the hook specification."""


class CapabilityError(QwthnError):
    """A circuit or run setting asks for something the selected backend cannot do."""


class OptionsError(QwthnError, ValueError):
    """A backend option is unknown or has a value the backend's options model refuses."""


class TransientBackendError(QwthnError):
    """A backend call failed in a way worth retrying (a dropped connection, a busy queue, a timeout).

    Backends raise it (or a subclass) from `evaluate` or from a job's `result`; the runtime
    retries the chunk with backoff. Any other exception is a real error and is not retried.
    """


class BackendTimeoutError(TransientBackendError, TimeoutError):
    """A backend job did not finish within the runtime's per-call timeout."""


class BackendExecutionError(QwthnError):
    """A backend call kept failing after every retry the runtime allows."""
