"""Errors a user can act on: each message is one line naming the problem and the fix."""


class QwthnError(Exception):
    """A problem with the user's input or environment (shown without a traceback by the CLI)."""


class BackendNotFoundError(QwthnError, LookupError):
    """No installed backend plugin answers to the requested name."""


class PluginValidationError(QwthnError):
    """A backend plugin does not follow the hook specification."""


class CapabilityError(QwthnError):
    """A circuit or option asks for something the selected backend cannot do."""
