"""State changes. Views, the API, tasks and commands all go through these functions."""


class ServiceError(Exception):
    """A request that cannot be carried out; the message says why."""


class AlreadyDecided(ServiceError):
    """Someone else decided the suggestion first."""
