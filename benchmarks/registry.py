"""Every benchmark case, in the order the table shows them."""


def all_cases():
    import case_core
    import case_nn
    import memory
    return case_core.cases() + case_nn.cases() + memory.cases()
