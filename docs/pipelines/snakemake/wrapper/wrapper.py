"""Snakemake wrapper for protmask mask.

Every param reaches the command line: `extra` verbatim, and every other named param as a
flag (`seed=7` -> `--seed 7`, `line_width=0` -> `--line-width 0`, `positions=True` ->
`--positions`; False or None leaves the flag out). A name protmask does not know is a usage
error from protmask itself, never silently dropped.

A named input `regions` is the regions file (`--regions FILE`), so that Snakemake tracks
it; every other input is a FASTA to mask. `regions_mode="except"`, `span_mean=5` and the
like are params as any other flag.
"""

__author__ = "protmask contributors"
__license__ = "MIT"

import shlex

from snakemake.shell import shell

# Flags the wrapper sets from input/output/threads: a param naming one of them is a mistake.
RESERVED = {"output", "outdir", "rates", "manifest", "threads", "input_list", "o", "O", "r", "j"}

log = snakemake.log_fmt_shell(stdout=True, stderr=True)

named = dict(snakemake.params.items())
if len(snakemake.params) > len(named):
    raise ValueError("protmask wrapper: every param needs a name (extra=..., seed=...), "
                     "an unnamed one would be dropped")

flags = []
for name, value in named.items():
    if name == "extra":
        continue
    if name in RESERVED:
        raise ValueError(
            f"protmask wrapper: param {name!r} is set by the wrapper from input/output/threads"
        )
    flag = ("-" if len(name) == 1 else "--") + name.replace("_", "-")
    if value is True:
        flags.append(flag)
    elif value is False or value is None:
        continue
    else:
        flags.append(f"{flag} {shlex.quote(str(value))}")
extra = snakemake.params.get("extra", "")

outputs = dict(snakemake.output.items())
unknown = set(outputs) - {"fasta", "rates", "manifest"}
if unknown:
    raise ValueError(f"protmask wrapper: unknown named outputs {sorted(unknown)}; "
                     "use fasta, rates and manifest")
fasta = outputs.get("fasta", snakemake.output[0] if len(snakemake.output) else None)
if fasta is None:
    raise ValueError("protmask wrapper: needs an output (the masked FASTA)")
rates = f"-r {shlex.quote(outputs['rates'])}" if "rates" in outputs else ""
manifest = f"--manifest {shlex.quote(outputs['manifest'])}" if "manifest" in outputs else ""
named_inputs = dict(snakemake.input.items())
if "regions" in named_inputs and "regions" in named:
    raise ValueError("protmask wrapper: the regions file is given twice, as input.regions "
                     "and params.regions; keep input.regions")
regions_file = named_inputs.get("regions")
if regions_file is not None and not isinstance(regions_file, str):
    raise ValueError("protmask wrapper: input.regions must be one file")
if regions_file is not None:
    flags.insert(0, f"--regions {shlex.quote(regions_file)}")
fasta_inputs = list(snakemake.input)
if regions_file is not None:  # drop the named entry itself (the same path may be a FASTA too)
    at = next((i for i, f in enumerate(fasta_inputs) if f is regions_file), None)
    del fasta_inputs[fasta_inputs.index(regions_file) if at is None else at]
inputs = " ".join(shlex.quote(str(f)) for f in fasta_inputs)

shell(
    "protmask mask {inputs} -o {fasta:q} {rates} {manifest} -j {snakemake.threads} "
    "{flags} {extra} {log}",
    flags=" ".join(flags),
)
