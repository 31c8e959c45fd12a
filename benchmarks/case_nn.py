"""Cases built on qiflow.nn / qiflow.optim (filled in as those modules land)."""


def cases():
    return []
