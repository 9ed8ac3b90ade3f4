"""Shared files: uploads streamed straight to disk in constant memory, and safe downloads.

An upload is written to ``<id>.part`` while it arrives and renamed to ``<id>`` only when complete
and recorded, so a broken upload never shows up anywhere. Stored names are random ids: the
original name is metadata and never touches the file system.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

from python_multipart.multipart import MultipartParser, parse_options_header

from .filewriter import BatchWriter, run_on_disk_thread
from .paths import private_folder
from .protocol import now_iso
from .store import FileRecord, HistoryStore, StoreError

log = logging.getLogger(__name__)

# Shown inline (thumbnails); every other type downloads as an attachment. No SVG: it can script.
INLINE_MIME = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                         "image/bmp"})
FILE_ID = re.compile(r"^[0-9a-f]{32}$")


class UploadError(Exception):
    """An upload refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def clean_filename(name: str) -> str:
    """A display name for a file: no folders, no control characters, at most 200 characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name)
                   if unicodedata.category(c)[0] != "C")
    name = name.strip().lstrip(".") or "file"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 else name[:200]
    return name


def guess_mime(name: str) -> str:
    mime, _ = mimetypes.guess_type(name, strict=False)
    return mime or "application/octet-stream"


class FileStore:
    """Where shared files live and how they get there."""

    def __init__(self, folder: Path, store: HistoryStore, *, max_bytes: int,
                 max_total_bytes: int, max_uploads_per_address: int = 4) -> None:
        self.folder = folder
        self.store = store
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.max_uploads_per_address = max_uploads_per_address
        private_folder(folder)
        self._used = store.total_file_bytes()
        # Bytes promised to uploads still arriving: their Content-Length, or what they wrote.
        self._reserved = 0
        # Bytes promised by others sharing the space (unfinished resumable uploads).
        self.promised_elsewhere: Callable[[], int] = lambda: 0
        self._uploading: dict[str, int] = {}  # address -> uploads in progress
        for leftover in folder.glob("*.part"):  # uploads cut short by a crash
            leftover.unlink(missing_ok=True)

    def path_of(self, record: FileRecord) -> Path:
        return self.folder / record.stored_name

    def erase(self, stored_name: str, size: int) -> None:
        """Remove a deleted message's file from disk (its record is already gone)."""
        path = self.folder / stored_name
        if path.parent != self.folder:
            return
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("could not remove a deleted file %s: %s", stored_name, exc)
            return
        self._used = max(0, self._used - size)

    def lookup(self, file_id: str) -> FileRecord | None:
        if not FILE_ID.match(file_id):
            return None
        record = self.store.get_file(file_id)
        if record is None or not self.path_of(record).is_file():
            return None
        return record

    def _check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise UploadError(413, "file is larger than this room's limit of "
                                   + _human(self.max_bytes))

    def free_bytes(self) -> int:
        """Total space not used by shared files nor promised to uploads in progress."""
        return (self.max_total_bytes - self._used - self._reserved
                - self.promised_elsewhere())

    def _reserve(self, extra: int) -> None:
        """Promise ``extra`` more bytes of the total space to an upload, or refuse with 507."""
        if extra > self.free_bytes():
            raise UploadError(507, "the host's space for shared files is full "
                                   f"({_human(self.max_total_bytes)})")
        self._reserved += extra

    def _start_upload(self, uploader: str | None) -> str:
        who = uploader or "?"
        if self._uploading.get(who, 0) >= self.max_uploads_per_address:
            raise UploadError(429, f"{self.max_uploads_per_address} uploads from your address "
                                   "are already in progress; wait for one to finish")
        self._uploading[who] = self._uploading.get(who, 0) + 1
        return who

    def _end_upload(self, who: str, sink: _Sink) -> None:
        self._reserved -= sink.reserved
        sink.reserved = 0
        left = self._uploading.pop(who) - 1
        if left:
            self._uploading[who] = left

    async def receive(self, chunks: AsyncIterator[bytes], content_type: str,
                      content_length: int | None, uploader: str | None,
                      raw_name: str | None = None) -> FileRecord:
        """Stream one upload to disk: multipart (field ``file``), or a raw body named by
        the caller."""
        who = self._start_upload(uploader)
        file_id = uuid.uuid4().hex
        part_path = self.folder / f"{file_id}.part"
        sink = _Sink(part_path, self)
        try:
            if content_length is not None:
                # Multipart framing adds a few hundred bytes; the exact check is made while
                # streaming. The space is promised now, so parallel uploads cannot overrun it.
                sink.reserve(max(0, content_length - 16 * 1024))
            if content_type.startswith("multipart/form-data"):
                name = await self._multipart(chunks, content_type, sink)
            else:
                if not raw_name:
                    raise UploadError(400, "send multipart/form-data with a 'file' field, "
                                           "or a raw body with ?name=<file name>")
                sink.open()
                async for chunk in chunks:
                    sink.write(chunk)
                    await sink.drain()
                name = raw_name
            await sink.finish()
            if sink.writer is None:
                raise UploadError(400, "no 'file' field in the upload")
            name = clean_filename(name)
            record = FileRecord(id=file_id, name=name, size=sink.size, mime=guess_mime(name),
                                stored_name=file_id, uploader=uploader, ts=now_iso())
            os.replace(part_path, self.folder / file_id)
            try:
                await self.store.async_add_file(record)
            except StoreError:
                (self.folder / file_id).unlink(missing_ok=True)
                raise
            self._used += record.size
            return record
        except OSError as exc:
            log.error("upload failed: %s", exc)
            raise UploadError(507, f"the host could not write the file ({exc.strerror})") from exc
        finally:
            try:
                await sink.abort()
            finally:
                self._end_upload(who, sink)

    async def _multipart(self, chunks: AsyncIterator[bytes], content_type: str,
                         sink: _Sink) -> str:
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise UploadError(400, "multipart upload without a boundary")
        part = _FilePart(sink)
        parser = MultipartParser(boundary, cast(Any, part.callbacks()))
        try:
            async for chunk in chunks:
                parser.write(chunk)  # its callbacks gather the file's bytes in the sink
                await sink.drain()
            parser.finalize()
        except (UploadError, OSError):
            raise
        except Exception as exc:  # the parser's errors are all "malformed"
            raise UploadError(400, f"malformed multipart upload: {exc}") from exc
        if not part.done:
            raise UploadError(400, "no complete 'file' field in the upload")
        return part.name


async def adopt_complete_file(files: FileStore, path: Path, name: str,
                              uploader: str | None) -> FileRecord:
    """Record a file that arrived complete by other means (a finished resumable upload) and
    move it into the shared files, exactly as a one-shot upload would be kept. The sync and
    the record's commit happen off the event loop."""
    size = path.stat().st_size
    files._check_size(size)  # its space was promised when it was announced
    name = clean_filename(name)
    file_id = uuid.uuid4().hex
    record = FileRecord(id=file_id, name=name, size=size, mime=guess_mime(name),
                        stored_name=file_id, uploader=uploader, ts=now_iso())
    await run_on_disk_thread(_sync_file, path)
    os.replace(path, files.path_of(record))
    try:
        await files.store.async_add_file(record)
    except StoreError:
        files.path_of(record).unlink(missing_ok=True)
        raise
    files._used += size
    return record


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FilePart:
    """Multipart parser callbacks that stream the first part named ``file`` into a sink and
    ignore every other part."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.headers: dict[bytes, bytes] = {}
        self.field = b""
        self.value = b""
        self.name = "file"
        self.active = False
        self.done = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.on_part_begin, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished,
                "on_part_data": self.on_part_data, "on_part_end": self.on_part_end}

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        if opts.get(b"name") == b"file" and not self.done:
            raw = opts.get(b"filename*") or opts.get(b"filename") or b"file"
            self.name = raw.decode("utf-8", "replace")
            self.active = True
            self.sink.open()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.active:
            self.sink.write(data[start:end])

    def on_part_end(self) -> None:
        if self.active:
            self.active, self.done = False, True


class _Sink:
    """The ``.part`` file an upload streams into, with the size limits checked on every chunk.
    The bytes go to disk through a :class:`BatchWriter`, off the event loop."""

    def __init__(self, path: Path, files: FileStore) -> None:
        self.path = path
        self.files = files
        self.writer: BatchWriter | None = None
        self.size = 0
        self.reserved = 0  # of the total space, promised to this upload
        self.finished = False

    def reserve(self, size: int) -> None:
        """Make sure ``size`` bytes are promised to this upload."""
        self.files._check_size(size)
        if size > self.reserved:
            self.files._reserve(size - self.reserved)
            self.reserved = size

    def open(self) -> None:
        if self.writer is None:
            self.writer = BatchWriter(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                              0o600))

    def write(self, data: bytes) -> None:
        """Check the limits and gather the bytes; synchronous, for the parser's callbacks."""
        self.size += len(data)
        self.reserve(self.size)
        assert self.writer is not None
        self.writer.add(data)

    async def drain(self) -> None:
        if self.writer is not None:
            await self.writer.drain()

    async def finish(self) -> None:
        """Everything written and synced to disk, then closed."""
        if self.writer is not None:
            await self.writer.sync()
            await self.writer.close()
            self.finished = True

    async def abort(self) -> None:
        """An unfinished upload: close once no write is in flight, then remove the file."""
        if self.writer is not None and not self.finished:
            await self.writer.close(keep=False, then=self._remove)

    def _remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
