from ..containers import Sequential, ModuleList, ModuleDict, ParameterList  # noqa: F401
