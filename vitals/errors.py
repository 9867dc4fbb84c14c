"""One error hierarchy for the whole library, rooted in :class:`VitalsError`.

Messages say what went wrong and what the operator can do about it.
"""


class VitalsError(Exception):
    """Root of every error city-vitals raises on purpose."""


class CatalogError(VitalsError):
    """The indicator catalog is invalid (every problem is listed in the message)."""


class ConfigError(VitalsError):
    """A setting, a command-line option or a configuration file is invalid."""


class ReadingError(VitalsError):
    """Input readings cannot be read at all (a whole file or stream, not one reading)."""


class SourceError(VitalsError):
    """A source (file, MQTT, Kafka, simulator) cannot be opened or resumed."""


class RecoveryError(VitalsError):
    """A recovery directory belongs to another run, or its snapshots are corrupt."""


class HistoryError(VitalsError):
    """The Parquet history cannot be written or read."""


class ModelError(VitalsError):
    """A detector or forecaster is used wrongly (e.g. scored before it is fitted)."""


class NotFittedError(ModelError):
    """A model was used before ``fit``."""


class RegistryError(VitalsError):
    """The model registry cannot find, load or promote a model."""


class UntrustedModelError(RegistryError):
    """A model artifact contains types that are not on the trusted list; it was not loaded."""


class ServiceError(VitalsError):
    """An external service (Prometheus, Alertmanager, mosquitto) cannot be started or reached."""


class SinkError(VitalsError):
    """A configured sink cannot work: its broker is unreachable, its topic missing."""


class ExportError(VitalsError):
    """Generated files (rules, routes, dashboards) cannot be built or deployed."""


class StateError(VitalsError):
    """Series state is used wrongly (a batch for another shard, an invalid window, a timestamp out of range)."""


class JoinStoppedError(VitalsError):
    """SIGINT or SIGTERM came while a cluster process was still waiting for its peers: the flow never started.
    The command exits with ``exit_code`` (128 + the signal number, as for a death by that signal)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
