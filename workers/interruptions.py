"""Why a runner stops driving a job before its end (both leave the job to another runner)."""


class LeaseLost(Exception):
    """Another runner holds the job now (ours expired): stop driving it."""


class ShuttingDown(Exception):
    """The runner is stopping: hand the job back for the next runner to resume."""
