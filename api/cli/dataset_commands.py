"""``edgenas datasets ...``: upload data sets to a server, list and delete them. A job then
names an upload in its ``data`` field. Needs only the base install."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from api.client.options import DEFAULT_SERVER, ApiKey, ServerUrl, call, fail

app = typer.Typer(help="Data sets uploaded to a server.", no_args_is_help=True)
CHUNK_BYTES = 1 << 20


@app.command()
def upload(
    path: Annotated[Path, typer.Argument(help=".npz arrays, a .zip of class folders, or a folder")],
    name: Annotated[
        str | None, typer.Option(help="Its name in job specs (default: file name)")
    ] = None,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Upload a data set; a folder of class folders is zipped first. The server validates it
    in full before keeping it."""
    name = name or path.stem
    if path.is_dir():
        with tempfile.TemporaryDirectory() as scratch:
            dataset = _send(server, api_key, _zip_folder(path, Path(scratch)), name, "zip")
    elif path.is_file() and path.suffix in (".npz", ".zip"):
        dataset = _send(server, api_key, path, name, path.suffix[1:])
    else:
        raise fail(f"{path}: give an .npz file, a .zip of class folders or a folder")
    typer.echo(f"data set {dataset['id']} uploaded: {_describe(dataset)}")


@app.command("list")
def list_datasets(server: ServerUrl = DEFAULT_SERVER, api_key: ApiKey = None) -> None:
    """Your data sets: id, name, images, classes, image size, file size."""
    for dataset in call(server, api_key, "GET", "/v1/datasets").json():
        typer.echo(f"{dataset['id']}\t{_describe(dataset)}")


@app.command()
def delete(
    dataset_id: Annotated[int, typer.Argument(help="Data set id (see list)")],
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Delete a data set and its file (refused while an unfinished job reads it)."""
    call(server, api_key, "DELETE", f"/v1/datasets/{dataset_id}")
    typer.echo(f"data set {dataset_id} deleted")


def _send(server: str, api_key: str | None, path: Path, name: str, file_format: str) -> Any:
    return call(
        server,
        api_key,
        "POST",
        "/v1/datasets",
        params={"name": name, "format": file_format},
        content=_chunks(path),
        timeout=600,
    ).json()


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


def _zip_folder(folder: Path, scratch: Path) -> Path:
    """``folder/<class>/<image>`` as a zip of ``<class>/<image>`` (stored: images are
    compressed already)."""
    target = scratch / f"{folder.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for file in sorted(folder.glob("*/*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    return target


def _describe(dataset: dict[str, Any]) -> str:
    side = dataset["resolution"]
    return (
        f"{dataset['name']}: {dataset['images']:,} images, {len(dataset['classes'])} classes, "
        f"{side}x{side}x{dataset['channels']}, {dataset['size_bytes'] / 2**20:,.1f} MiB, "
        f"sha256 {dataset['sha256'][:12]}"
    )
