"""The function the no-op ``python_function_task`` workloads call."""


def noop() -> None:
    """Do nothing, so that what is measured is the orchestration around it."""
