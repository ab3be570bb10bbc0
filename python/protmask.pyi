"""The same masks in a training loop as on disk.

``Masker`` gives, for the same options, seed, ID, sequence and replicate, exactly what
``protmask mask`` writes (docs/python.md).
"""

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TypedDict, Union

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

class Masked:
    """One masked record: what ``protmask mask --dataset`` writes for it."""

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
    raises ``TypeError``. ``threads`` sets ``mask_many``'s worker threads (default: all
    cores).
    """

    def __init__(
        self,
        preset: str = "esm3",
        seed: Optional[int] = 42,
        *,
        threads: Optional[int] = None,
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
        span_max: Optional[int] = None,
        random_pool: Optional[str] = None,
        random_differs: Optional[bool] = None,
        min_masked: Optional[int] = None,
        max_length: Optional[int] = None,
        crop: Optional[str] = None,
    ) -> None: ...
    def mask(self, id: str, sequence: str, replicate: int = 1) -> Masked:
        """Mask one record (replicate counts from 1).

        Raises ``RecordError`` for a bad ID or residue, and ``ValueError`` with stratified
        timesteps (one record has no order to stratify over: use ``mask_many``).
        """
    def mask_many(
        self, ids: Sequence[str], sequences: Sequence[str], replicate: int = 1
    ) -> List[Masked]:
        """Mask a batch in parallel without holding the GIL; results in order.

        Record i is the i-th record of one input: with stratified timesteps a batch holding
        a whole file in order equals ``protmask mask`` on that file.
        """
    @property
    def options(self) -> str:
        """The resolved options as JSON (a ``protmask mask`` manifest's ``options``)."""
