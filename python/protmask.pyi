"""The same masks in a training loop as on disk.

``Masker`` gives, for the same options, seed, ID, sequence and replicate, exactly what
``protmask mask`` writes (docs/python.md).
"""

import os
from typing import (Any, Dict, Iterator, List, Mapping, Optional, Sequence, SupportsIndex,
                    Tuple, TypedDict, Union)

import numpy as np
import numpy.typing as npt

__version__: str

class OptionError(ValueError):
    """A masking option that cannot be used (the CLI's message)."""

class RecordError(ValueError):
    """A record that cannot be masked: its 1-based number in the batch, its ID, what is
    wrong."""

class VerifyError(ValueError):
    """A masked set that is not what it should be: the first disagreement (or a file that
    cannot be read), with the message ``protmask verify`` prints."""

_Int = SupportsIndex
"""Any integer type: ``int``, numpy's integers, anything with ``__index__`` (not bool)."""

def presets() -> List[Dict[str, Any]]:
    """Every preset with what it sets and its reference code, as ``protmask schedule
    --list --format json`` lists them."""

_Path = Union[str, "os.PathLike[str]"]

class Verified(TypedDict):
    """What ``verify`` verified: the numbers of ``protmask verify``'s summary line."""

    records: int
    replicates: int
    changed: int
    """Positions that show as masked or replaced."""
    uncertain: int
    """Of ``changed``, those showing a residue-letter token over the same residue (the
    CLI's "N to M changed positions")."""
    selected: Optional[int]
    """Positions selected: the ``masked`` column's sum, with a rates table or a dataset
    (more than ``changed`` when some were kept); None without either."""
    rows: Optional[int]
    """Rows of the rates table or dataset checked; None without either."""
    identical: Optional[int]
    """With a manifest: regenerated outputs identical byte for byte; else None."""
    same_content: Optional[int]
    """With a manifest: compressed outputs identical once uncompressed; else None."""
    from_metadata: bool
    """The options checked by came from the Parquet dataset's own metadata."""

def verify(
    original: _Path,
    masked: _Path,
    *,
    rates: Optional[_Path] = None,
    manifest: Optional[_Path] = None,
    preset: Optional[str] = None,
    mask_token: Optional[str] = None,
    corrupt: Optional[Tuple[float, float, float]] = None,
    maskable: Optional[str] = None,
    random_pool: Optional[str] = None,
    regions: Optional[_Path] = None,
    regions_mode: Optional[str] = None,
    max_length: Optional[int] = None,
    crop: Optional[str] = None,
) -> Verified:
    """Verify a masked set as ``protmask verify`` does, without holding the GIL.

    ``masked`` (a FASTA or a dataset, told from its bytes) is a masking of ``original``;
    with ``rates``, the table agrees; with ``manifest``, every checksum matches and the
    recorded job, run again, reproduces the recorded outputs. The options left None are
    what a Parquet ``masked`` (its metadata) or the manifest records, else the preset's
    (resolved as ``protmask mask --preset`` resolves it), else the defaults; an option
    given that disagrees with what is recorded raises ``ValueError`` naming both. Raises ``VerifyError`` with the CLI's message for the
    first disagreement, ``OptionError`` for a bad option, ``ValueError`` for a request that
    cannot work (a dataset with ``rates`` or ``regions``).
    """

class FastaReader(Iterator[Tuple[str, str, str]]):
    """The records of a FASTA input, one at a time: ``(id, description, sequence)``."""

    def __iter__(self) -> "FastaReader": ...
    def __next__(self) -> Tuple[str, str, str]: ...

def read_fasta(path: _Path) -> FastaReader:
    """The records of a FASTA file as ``protmask mask`` reads them, one at a time, as
    ``(id, description, sequence)`` tuples: the ID is the header's first word, the
    description the rest (may be empty), the sequence unwrapped. ``path`` is a path, or
    ``"-"`` for standard input; gzip (BGZF), bzip2, xz and zstd are told from the content.
    One block of records is held at a time, read without the GIL. A record the CLI refuses
    raises ``RecordError`` with the CLI's message (file, record number and ID); a file that
    cannot be opened, ``FileNotFoundError`` or ``OSError``.
    """

class Batch(TypedDict):
    """What ``Masker.collate`` returns: int64 arrays (or torch tensors), rows × width."""

    input_ids: Any
    """Row i: record i's ``input_ids`` (``Masked.input_ids``), then the pad id (ESM
    ``<pad>`` 1, EvoDiff ``!`` 30)."""
    attention_mask: Any
    """1 over the row's tokens (start and stop included), 0 over padding."""
    labels: Any
    """Row i: record i's ``labels``, then -100."""

class Masked:
    """One masked record: what ``protmask mask --dataset`` writes for it.

    Two are equal when every field is (the arrays element by element); the repr shows the
    ID, L, the count, t and the masked sequence cut to 40 characters.
    """

    @property
    def id(self) -> Optional[str]:
        """The record's ID, as given to ``mask`` or ``mask_many``."""

    @property
    def masked(self) -> str:
        """The output residues, unwrapped, with the mask token."""
    @property
    def positions(self) -> npt.NDArray[np.int32]:
        """0-based selected positions, ascending."""
    @property
    def t(self) -> float:
        """The timestep (bit-identical to the rates table's ``t``)."""
    @property
    def rate(self) -> float:
        """The mask rate drawn (bit-identical to the rates table's ``rate``)."""
    @property
    def count(self) -> int:
        """The number of selected positions (the table's ``masked``)."""
    @property
    def length(self) -> int:
        """L, the number of eligible positions."""
    @property
    def input_ids(self) -> Optional[npt.NDArray[np.int32]]:
        """With ``tokens="esm"``: ESM ids of the output, ``<cls>`` first, ``<eos>`` last;
        a masked position is ``<mask>`` (32) whatever the mask token. With
        ``tokens="evodiff"``: EvoDiff ids, ``@`` (29) first, ``*`` (27) last, a masked
        position ``#`` (28)."""
    @property
    def labels(self) -> Optional[npt.NDArray[np.int32]]:
        """With ``tokens``: the original residue's id at selected positions, -100
        elsewhere (the first and last included)."""
    @property
    def crop_start(self) -> Optional[int]:
        """With ``max_length``, a record longer than it: the window's 0-based start in
        the original (every other field is the window's); else None."""

class Masker:
    """Masks records as ``protmask mask`` does, with the CLI's options as keywords.

    Every masking option of ``protmask mask`` is a keyword of the same name with ``_`` for
    ``-``. ``None`` takes the preset's value. A bad value raises ``OptionError`` (a
    ``ValueError``) with the CLI's message; an unknown keyword or a value of the wrong type
    raises ``TypeError``. Integers may be of any integer type (numpy's included).
    ``threads`` sets the worker threads of ``mask_many`` and ``collate`` (default: all
    cores; 1 in a process forked after the import, a ``multiprocessing`` child or a
    PyTorch DataLoader worker).
    """

    def __init__(
        self,
        preset: str = "esm3",
        seed: Optional[_Int] = 42,
        *,
        threads: Optional[_Int] = None,
        schedule: Optional[str] = None,
        mode: Optional[str] = None,
        mask_token: Optional[str] = None,
        corrupt: Optional[Tuple[float, float, float]] = None,
        maskable: Optional[str] = None,
        timesteps: Optional[str] = None,
        tokens: Optional[str] = None,
        regions: Union[str, "os.PathLike[str]", Mapping[str, Sequence[Tuple[int, int]]], None] = None,
        regions_mode: Optional[str] = None,
        span_mean: Optional[float] = None,
        span_max: Optional[_Int] = None,
        random_pool: Optional[str] = None,
        random_differs: Optional[bool] = None,
        min_masked: Optional[_Int] = None,
        max_length: Optional[_Int] = None,
        crop: Optional[str] = None,
    ) -> None: ...
    @classmethod
    def from_manifest(cls, path: _Path, *, threads: Optional[_Int] = None) -> "Masker":
        """A Masker with the options a published set was made with: ``path`` is its
        manifest (``protmask mask --manifest``), or a Parquet dataset (a file or a dataset
        folder) whose metadata records them (``protmask.options``). Record i of the set,
        masked with its replicate, gives its row. A regions file the manifest records by
        path is found as ``protmask regenerate`` finds it. Raises ``VerifyError`` for a file
        that records no options or cannot be read.
        """
    def mask(
        self,
        id: str,
        sequence: str,
        replicate: Optional[_Int] = None,
        *,
        epoch: Optional[_Int] = None,
    ) -> Masked:
        """Mask one record. ``replicate`` counts from 1, as ``--replicates`` numbers them
        (default 1); or give ``epoch``, counted from 0 (replicate = epoch + 1).

        Raises ``RecordError`` naming the ID for a bad ID or residue, ``OptionError`` for
        a replicate or epoch out of range (or both given), and ``ValueError`` with
        stratified timesteps (one record has no order to stratify over: use
        ``mask_many``).
        """
    def mask_many(
        self,
        ids: Sequence[str],
        sequences: Sequence[str],
        replicate: Optional[_Int] = None,
        *,
        epoch: Optional[_Int] = None,
    ) -> List[Masked]:
        """Mask a batch in parallel without holding the GIL; results in order.

        Record i is the i-th record of one input: with stratified timesteps a batch holding
        a whole file in order equals ``protmask mask`` on that file. ``replicate`` or
        ``epoch`` as in ``mask``. Raises ``RecordError`` naming the first bad record (its
        1-based number in the batch, and its ID).
        """
    def collate(
        self,
        ids: Sequence[str],
        sequences: Sequence[str],
        replicate: Optional[_Int] = None,
        epoch: Optional[_Int] = None,
        max_length: Optional[_Int] = None,
        pad_to_multiple_of: Optional[_Int] = None,
        return_tensors: str = "np",
    ) -> Batch:
        """A batch for a masked language model, computed in Rust without the GIL.

        Row i holds the ``input_ids`` and ``labels`` that ``mask_many`` gives record i
        (those of ``protmask mask --dataset --tokens``), right-padded to the longest row
        (rounded up to a multiple of ``pad_to_multiple_of``) with the pad id, attention 0
        and label -100; int64. Needs ``tokens``. ``max_length`` crops a longer record to a
        window of that many residues as ``--max-length`` does (the Masker's ``crop``, else
        random), so rows are at most ``max_length + 2`` tokens. ``return_tensors="pt"``
        gives torch tensors (ImportError without torch).
        """
    @property
    def options(self) -> str:
        """The resolved options as JSON (a ``protmask mask`` manifest's ``options``)."""
