"""State changes. Views, the API, tasks and commands all go through these functions."""


class ServiceError(Exception):
    """A request that cannot be carried out; the message says why."""


class AlreadyDecided(ServiceError):
    """Someone else decided the suggestion first."""


#: longest note a decision, a colour set by hand, an archiving or a bulk approval keeps (the pages' limit)
NOTE_MAX = 500


def note_text(note: str | None) -> str:
    """The note as kept; ServiceError when it is longer than NOTE_MAX."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ServiceError(f"a note is at most {NOTE_MAX} characters ({len(note)} given)")
    return note
