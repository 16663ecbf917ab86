"""Why a config could not be used; the message is safe to show in ``/_health/ready``."""


class ConfigError(Exception):
    """The config could not be read, parsed or validated. ``str(err)`` names what and where."""
