"""Where a job's data comes from, and the uploaded data sets' table.

A job's ``data`` names a bundled data set (``mnist5k``), one of its owner's uploads (by name)
or, only where an operator allows it, a path under one of the server's data roots. Whatever
it names is resolved once, at submission, to a location every runner and Ray worker reads
the same way (``Job.data_location``). Anything else gets one message that says nothing about
which paths exist on the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from edgenas.callers import Caller
from edgenas.errors import ConflictError, NotFoundError
from search.data import BUILTIN, ImageDataset
from workers.spec import SpecError
from workers.tables import FINISHED_STATES, Dataset, Job

UNKNOWN_DATA = (
    f"give a bundled data set ({', '.join(BUILTIN)}), the name of one of your uploaded data "
    "sets, or a path under one of the server's data roots"
)
DatasetFormat = Literal["npz", "zip"]  # npz: arrays images and labels; zip: class folders


def data_location(
    session: Session, data: str, caller: Caller, data_dir: Path, roots: Sequence[Path]
) -> str:
    """The location a job's ``data`` names for ``caller``, or the one generic ``SpecError``."""
    if data in BUILTIN:
        return data
    if "/" in data or data.startswith("."):
        return _under_a_root(data, roots)
    dataset = session.scalar(_own(caller).where(Dataset.name == data))
    if dataset is None:
        raise SpecError("data", UNKNOWN_DATA)
    return str(dataset_path(data_dir, dataset))


def _under_a_root(data: str, roots: Sequence[Path]) -> str:
    """An absolute path whose real location (symlinks resolved) lies inside a root."""
    path = Path(data)
    if not path.is_absolute():
        raise SpecError("data", UNKNOWN_DATA)
    real = path.resolve()
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        raise SpecError("data", UNKNOWN_DATA)
    return str(real)


def dataset_path(data_dir: Path, dataset: Dataset) -> Path:
    return data_dir.resolve() / dataset.file


def check_new_dataset(session: Session, caller: Caller, name: str, quota: int) -> None:
    """Before an upload is read: the name is free among the caller's and the caller is under
    the quota (409 either way)."""
    _check_name(session, caller, name)
    count = session.scalar(select(func.count()).select_from(_own(caller).subquery())) or 0
    if count >= quota:
        raise ConflictError(f"you have {count} data sets, the most allowed; delete one first")


def keep_dataset(
    session: Session,
    caller: Caller,
    name: str,
    file: str,
    file_format: DatasetFormat,
    sha256: str,
    size_bytes: int,
    data: ImageDataset,
) -> Dataset:
    """Record a validated upload as the caller's."""
    _check_name(session, caller, name)  # taken by another upload while this one streamed
    dataset = Dataset(
        owner_id=caller.user_id,
        name=name,
        file=file,
        format=file_format,
        sha256=sha256,
        size_bytes=size_bytes,
        images=len(data),
        classes=list(data.classes),
        resolution=data.resolution,
        channels=data.channels,
    )
    session.add(dataset)
    session.flush()
    return dataset


def list_datasets(session: Session, caller: Caller) -> list[Dataset]:
    """The caller's data sets (an admin: everyone's), newest first."""
    query = select(Dataset) if caller.admin else _own(caller)
    return list(session.scalars(query.order_by(Dataset.id.desc())))


def get_dataset(session: Session, dataset_id: int, caller: Caller) -> Dataset:
    """One of the caller's data sets; another user's is a 404."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or not caller.owns(dataset.owner_id):
        raise NotFoundError(f"no data set {dataset_id}")
    return dataset


def delete_dataset(session: Session, dataset: Dataset, data_dir: Path) -> Path:
    """Forget a data set no unfinished job reads (409 otherwise); returns its file, which the
    caller removes once this is committed."""
    path = dataset_path(data_dir, dataset)
    user = session.scalar(
        select(Job.id).where(Job.data_location == str(path), Job.state.not_in(FINISHED_STATES))
    )
    if user is not None:
        raise ConflictError(
            f"data set {dataset.name!r} is in use by job {user}; cancel it or let it finish"
        )
    session.delete(dataset)
    return path


def _check_name(session: Session, caller: Caller, name: str) -> None:
    if name in BUILTIN:
        raise ConflictError(f"{name!r} is a bundled data set's name; choose another")
    if session.scalar(_own(caller).where(Dataset.name == name)) is not None:
        raise ConflictError(f"you already have a data set named {name!r}")


def _own(caller: Caller) -> Select[Dataset]:
    """The caller's own data sets (``== None`` is ``IS NULL``: the keyless developer's)."""
    return select(Dataset).where(Dataset.owner_id == caller.user_id)
