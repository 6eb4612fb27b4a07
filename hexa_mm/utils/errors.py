"""Errors a user can fix; the tools print them on one line."""


class ConfigError(ValueError):
    """A config, input or file the user can fix; the message says how."""


class CheckpointError(ConfigError):
    """A checkpoint that cannot or must not be loaded; names the file."""
