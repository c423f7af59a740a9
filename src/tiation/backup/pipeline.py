"""The backup pipeline: source -> zstd (multi-threaded, streaming) -> age (to public keys) -> sha256 -> store.

Memory stays bounded whatever the size: the source is read in 1 MiB chunks, and the encrypted stream crosses
from pyrage's worker thread to the store through a queue of at most 8 chunks of 64 KiB. The source is closed
(its producer's exit status checked) before the data object is committed, so a failed producer never leaves a
stored object; the manifest is written last. Any failure aborts the source, deletes the data object if it got
that far and raises one BackupError line naming the backup id and the failing stage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import pyrage  # type: ignore[import-untyped]
import zstandard

from tiation.backup import seal
from tiation.backup.manifest import (
    Compression,
    Encryption,
    Manifest,
    Sizes,
    Timings,
    check_name,
    data_object_name,
    manifest_key,
    new_backup_id,
    tool_versions,
)
from tiation.backup.sources.base import Source, SourceInfo, SourceReader
from tiation.backup.stores.base import Store
from tiation.backup.streams import IterReader, Pipe, start_producer
from tiation.clock import Clock
from tiation.errors import BackupError
from tiation.redact import redact

READ_SIZE = 1 << 20
_OUT_CHUNK = 1 << 17  # zstd output pieces: fixed-size pieces keep the allocator from fragmenting
_ZSTD_JOB_SIZE = (
    1 << 20
)  # multi-threaded zstd buffers a few jobs per thread; the default (8 MiB+) costs 100+ MB
_READ_AHEAD = 4  # source chunks (of READ_SIZE) read ahead of compression
_JOIN_TIMEOUT_S = 10.0


def one_line(text: str) -> str:
    """`text` redacted and folded onto one line (for messages that embed another error's text)."""
    return " ".join(redact(text).split())


def stage_error(backup_id: str, stage: str, exc: BaseException) -> BackupError:
    """The one-line BackupError for `exc` raised in `stage` of backup `backup_id`."""
    detail = exc.message if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
    return BackupError(f"backup {backup_id} failed at {stage}: {one_line(detail)}")


def parse_recipients(backup_id: str, recipients: Sequence[str]) -> list[tuple[Any, str]]:
    """(pyrage recipient, public key as recorded) for age (`age1…`) or SSH (`ssh-ed25519 …`, `ssh-rsa …`) keys."""
    parsed: list[tuple[Any, str]] = []
    for text in recipients:
        key = text.strip()
        try:
            if key.lower().startswith("age1"):
                recipient = pyrage.x25519.Recipient.from_str(key)
                parsed.append((recipient, str(recipient)))
                continue
            if key.startswith(("ssh-ed25519 ", "ssh-rsa ")):
                parsed.append((pyrage.ssh.Recipient.from_str(key), key))
                continue
        except Exception:  # noqa: S110 - reported below as an unknown format, without the key's text
            pass
        if key.upper().startswith("AGE-SECRET-KEY-"):
            shown = "an age secret key (give its public key, age1…)"
        else:
            shown = repr(key[:16] + ("…" if len(key) > 16 else ""))
        raise BackupError(f"backup {backup_id} failed at encryption setup: unknown recipient format: {shown}")
    return parsed


@dataclasses.dataclass
class _Meter:
    """Counters and phase timings of one run (written by two threads, each field by one)."""

    clock: Clock
    source_bytes: int = 0
    compressed_bytes: int = 0
    stored_bytes: int = 0
    read: float = 0.0
    compress: float = 0.0
    encrypt: float = 0.0
    upstream: float = 0.0  # time the store's consumer spent waiting for data
    stored_checksum: float = 0.0  # time hashing the stored bytes (on the store's thread)
    stored_sha: Any = dataclasses.field(default_factory=hashlib.sha256)


def _read_ahead(reader: SourceReader, backup_id: str, clock: Clock) -> Iterator[bytes]:
    """The source's chunks, read on a thread of their own so the producer (e.g. pg_dump) never waits for
    compression; at most `_READ_AHEAD` chunks are held."""
    pipe = Pipe(clock, depth=_READ_AHEAD)

    def work() -> None:
        while True:
            try:
                data = reader.read(READ_SIZE)
            except Exception as exc:
                raise stage_error(backup_id, "read", exc) from exc
            pipe.write(data)
            if not data:
                return

    thread = start_producer(pipe, work, f"tiation-read-{backup_id}")
    try:
        yield from pipe.chunks()
    finally:
        pipe.cancel()
        thread.join(timeout=_JOIN_TIMEOUT_S)  # a producer stuck in read() ends when the source is aborted


def _compressed(
    reader: SourceReader, backup_id: str, level: int, threads: int, m: _Meter, head: bytes = b""
) -> Iterator[bytes]:
    """Read the source and yield zstd output (after `head`, the seal frame); errors become BackupError."""
    if head:
        m.compressed_bytes += len(head)
        yield head
    params = zstandard.ZstdCompressionParameters.from_level(
        level, threads=threads, job_size=_ZSTD_JOB_SIZE if threads else 0, write_checksum=True
    )
    chunker = zstandard.ZstdCompressor(compression_params=params).chunker(chunk_size=_OUT_CHUNK)
    clock = m.clock
    source = _read_ahead(reader, backup_id, clock)
    while True:
        t0 = clock.monotonic()
        data = next(source, b"")
        t1 = clock.monotonic()
        m.read += t1 - t0
        m.source_bytes += len(data)
        try:
            out = list(
                chunker.compress(data) if data else cast(Any, chunker).finish()
            )  # finish: untyped stub
        except zstandard.ZstdError as exc:
            raise stage_error(backup_id, "compress", exc) from exc
        m.compress += clock.monotonic() - t1
        for piece in out:
            m.compressed_bytes += len(piece)
            yield piece
        if not data:
            return


def _encrypted(
    upstream: Iterator[bytes], backup_id: str, recipients: list[Any], m: _Meter
) -> Iterator[bytes]:
    """Encrypt `upstream` with pyrage on a worker thread; yield the ciphertext as it comes."""
    clock = m.clock
    pipe = Pipe(clock)
    source = IterReader(upstream, clock)

    def work() -> None:
        start = clock.monotonic()
        try:
            pyrage.encrypt_io(source, pipe, recipients)
        except Exception as exc:
            if source.failure is not None:
                raise source.failure from None
            raise stage_error(backup_id, "encrypt", exc) from None
        finally:
            m.encrypt += clock.monotonic() - start - source.seconds - pipe.producer_blocked

    thread = start_producer(pipe, work, f"tiation-encrypt-{backup_id}")
    try:
        yield from pipe.chunks()
    finally:
        pipe.cancel()
        thread.join()


def _stored(
    upstream: Iterator[bytes], m: _Meter, progress: Callable[[int], None] | None, at_end: Callable[[], None]
) -> Generator[bytes, None, None]:
    """What put_stream consumes: hashes and counts the stored bytes; calls `at_end` before the last return."""
    clock = m.clock
    try:
        while True:
            t0 = clock.monotonic()
            try:
                chunk = next(upstream)
            except StopIteration:
                break
            finally:
                m.upstream += clock.monotonic() - t0
            t1 = clock.monotonic()
            m.stored_sha.update(chunk)
            m.stored_bytes += len(chunk)
            m.stored_checksum += clock.monotonic() - t1
            if progress is not None:
                progress(m.source_bytes)
            yield chunk
        at_end()  # upstream is exhausted: the encryption thread (if any) has been joined
    finally:
        getattr(upstream, "close", lambda: None)()


@dataclasses.dataclass
class _Run:
    """The moving parts of one backup run, so that a failure anywhere cleans up all of them."""

    backup_id: str
    store: Store
    data_key: str
    m: _Meter
    reader: SourceReader
    chunks: Generator[bytes, None, None] | None = None
    info: SourceInfo | None = None
    seal_key: bytes | None = None  # encrypted backups only: sealed inside the envelope (see backup.seal)

    def close_source(self) -> None:
        """Wait for the source's producer and check its outcome (before the data object is committed)."""
        try:
            self.info = self.reader.close()
        except Exception as exc:
            raise stage_error(self.backup_id, "source close", exc) from exc

    def put_data(
        self, recipients: list[Any], level: int, threads: int, progress: Callable[[int], None] | None
    ) -> float:
        """Stream the source through zstd (and age) into the store; return the seconds the store itself took."""
        m, clock, backup_id = self.m, self.m.clock, self.backup_id
        head = seal.header(self.seal_key) if self.seal_key else b""
        upstream = _compressed(self.reader, backup_id, level, threads, m, head)
        if recipients:
            upstream = _encrypted(upstream, backup_id, recipients, m)
        # The source is closed (and its exit status checked) before put_stream commits the object.
        self.chunks = _stored(upstream, m, progress, self.close_source)
        t_store = clock.monotonic()
        try:
            stat = self.store.put_stream(self.data_key, self.chunks)
        except BackupError as exc:
            if exc.message.startswith(f"backup {backup_id} "):
                raise  # a failure upstream of the store, already worded
            raise stage_error(backup_id, "store", exc) from exc
        if stat.size != m.stored_bytes:
            raise BackupError(
                f"backup {backup_id} failed at store: {self.store.name} holds {stat.size} bytes of "
                f"{self.data_key}, {m.stored_bytes} were written"
            )
        return clock.monotonic() - t_store - m.upstream - m.stored_checksum

    def fail(self) -> None:
        """Abort the source, stop the encryption thread and delete the data object, each best effort."""
        _quietly(self.reader.abort)
        if self.chunks is not None:
            _quietly(self.chunks.close)  # stops the encryption thread
        _quietly(lambda: self.store.delete(self.data_key))


def run_backup(
    source: Source,
    store: Store,
    *,
    name: str,
    recipients: Sequence[str],
    clock: Clock,
    level: int = 3,
    threads: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Manifest:
    """Back up `source` into `store` as backup `name`; return the manifest (written last).

    `recipients` are age or SSH public keys (none: compressed only). `progress` is called on the calling thread
    with the number of source bytes read so far. Raises BackupError (one line: backup id and stage).
    """
    check_name(name)
    started_at = clock.now()
    backup_id = new_backup_id(name, started_at)
    parsed = parse_recipients(backup_id, recipients)
    if not 1 <= level <= 22 or threads < 0:
        raise BackupError(f"backup {backup_id} failed at compression setup: need level 1..22, threads >= 0")
    m = _Meter(clock)
    t_start = clock.monotonic()
    try:
        reader = source.open()
    except Exception as exc:
        raise stage_error(backup_id, "source open", exc) from exc
    run = _Run(backup_id, store, f"{backup_id}/{data_object_name(bool(parsed))}", m, reader)
    run.seal_key = seal.new_key() if parsed else None
    try:
        store_seconds = run.put_data([r for r, _ in parsed], level, threads, progress)
        timings = _timings(m, store_seconds, clock.monotonic() - t_start)
        manifest = _manifest(
            run, name, started_at, timings, Compression(level=level, threads=threads), parsed
        )
        if run.seal_key:
            manifest = manifest.model_copy(
                update={"seal": seal.seal_of(manifest.seal_fields(), run.seal_key)}
            )
        try:
            store.put_stream(manifest_key(backup_id), [manifest.to_json()])
            if store.stat(run.data_key) is None:  # a concurrent cleanup took it for an orphan
                store.delete(manifest_key(backup_id))
                raise BackupError(f"{run.data_key} vanished before its manifest was written")
        except BackupError as exc:
            raise stage_error(backup_id, "manifest", exc) from exc
        return manifest
    except BaseException:
        run.fail()
        raise


def _timings(m: _Meter, store_seconds: float, total: float) -> Timings:
    return Timings(
        read=round(m.read, 6),
        compress=round(m.compress, 6),
        encrypt=round(max(m.encrypt, 0.0), 6),
        checksum=round(m.stored_checksum, 6),
        store=round(max(store_seconds, 0.0), 6),
        total=round(total, 6),
    )


def _manifest(
    run: _Run,
    name: str,
    started_at: datetime,
    timings: Timings,
    compression: Compression,
    recipients: list[tuple[Any, str]],
) -> Manifest:
    """The manifest of a run whose data object is stored (and whose source was closed successfully)."""
    assert run.info is not None  # set by close_source before put_stream returned
    m = run.m
    return Manifest(
        backup_id=run.backup_id,
        name=name,
        data_object=data_object_name(bool(recipients)),
        source=json.loads(json.dumps(dataclasses.asdict(run.info), default=str)),
        started_at=started_at,
        finished_at=m.clock.now(),
        sizes=Sizes(
            source_bytes=m.source_bytes, compressed_bytes=m.compressed_bytes, stored_bytes=m.stored_bytes
        ),
        stored_sha256=m.stored_sha.hexdigest(),
        timings=timings,
        compression=compression,
        encryption=Encryption(
            scheme="age" if recipients else "none", recipients=tuple(shown for _, shown in recipients)
        ),
        tool_versions=tool_versions(),
    )


def _quietly(action: Callable[[], object]) -> None:
    """Run a clean-up step; its own failure must not hide the error that caused it."""
    with contextlib.suppress(Exception):  # best effort after a failure that is already being raised
        action()
