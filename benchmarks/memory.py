"""Peak memory cases (filled in below)."""


def cases():
    return []
