"""The same masks in a training loop as on disk.

``Masker`` gives, for the same options, seed, ID, sequence and replicate, exactly what
``protmask mask`` writes (docs/python.md).
"""

from typing import List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

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
        a masked position is ``<mask>`` (32) whatever the mask token."""
    @property
    def labels(self) -> Optional[npt.NDArray[np.int32]]:
        """With ``tokens="esm"``: the original residue's id at selected positions, -100
        elsewhere (``<cls>`` and ``<eos>`` included)."""

class Masker:
    """Masks records as ``protmask mask`` does, with the CLI's flags as arguments.

    ``None`` takes the preset's value. A bad value raises ``ValueError`` with the CLI's
    message. ``threads`` (keyword only) sets ``mask_many``'s worker threads (default: all
    cores).
    """

    def __init__(
        self,
        preset: str = "esm3",
        seed: Optional[int] = 42,
        schedule: Optional[str] = None,
        mode: Optional[str] = None,
        mask_token: Optional[str] = None,
        corrupt: Optional[Tuple[float, float, float]] = None,
        maskable: Optional[str] = None,
        tokens: Optional[str] = None,
        timesteps: Optional[str] = None,
        *,
        threads: Optional[int] = None,
    ) -> None: ...
    def mask(self, id: str, sequence: str, replicate: int = 1) -> Masked:
        """Mask one record (replicate counts from 1).

        Raises ``ValueError`` for a bad ID or residue, and with stratified timesteps (one
        record has no order to stratify over: use ``mask_many``).
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
