"""``scdiff``: train, generate, trace trajectories, evaluate and inspect models from the shell.

One module per subcommand (``add_parser(sub)`` and ``run(args)``), listed in :data:`COMMANDS`;
shared argument types in :mod:`.args`. Every subcommand only calls the library. Problems with the
user's input are printed as one ``error:`` line that says what to do (exit code 2), never as a
traceback; an unexpected internal error prints one line with the path of a log file that holds
the traceback (exit code 1).
"""
from __future__ import annotations

import argparse
import shlex
import sys

from . import calibrate, convert_encoder, evaluate, generate, info, trajectory, train
from .args import Parser, UsageError, default_threads, split_arg
from .crash import internal_error, one_line_warnings

__all__ = ["main", "build_parser", "COMMANDS", "UsageError", "default_threads", "split_arg"]

#: The subcommands, in the order ``scdiff --help`` lists them.
COMMANDS = (train, generate, trajectory, evaluate, calibrate, convert_encoder, info)

EPILOG = """\
examples:
  # train on the built-in PBMC data, conditioned on cell type and cell-cycle phase (~5 min on 2 cores)
  scdiff train --data pbmc68k --conditions bulk_labels,phase --out checkpoints/my_pbmc

  # 500 CD14+ monocytes in S phase, classifier-free guidance, DDIM with 50 steps
  scdiff generate --checkpoint checkpoints/pbmc68k --condition bulk_labels="CD14+ Monocyte" \\
      --condition phase=S --cells 500 --out mono_S.h5ad

  # a trajectory from 7MEP to 2Ery in 10 steps of lambda, 100 cells each
  scdiff trajectory --checkpoint checkpoints/paul15 --column paul15_clusters --from 7MEP --to 2Ery \\
      --points 10 --cells-per-point 100 --out mep_to_ery.h5ad

  # how real are they? (against the checkpoint's held-out test cells, with a real-vs-real control row)
  scdiff evaluate --checkpoint checkpoints/pbmc68k --generated mono_S.h5ad --out report.json
"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="scdiff",
        description="Generate realistic single-cell RNA-seq profiles under chosen conditions with latent "
                    "diffusion (scDiffusion-style autoencoder + diffusion + guidance), trace trajectories "
                    "between cell states, and measure how real the generated cells are.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS:
        cmd.add_parser(sub)
    return p


def _check_expected(args) -> None:
    """``--expect-fingerprint``: the checkpoint must be that one (checked before any work)."""
    expected = getattr(args, "expect_fingerprint", None)
    if expected:
        from ..checkpoint import read_config
        from ..fingerprint import verify

        verify(read_config(args.checkpoint), args.checkpoint, expected)


def main(argv: list[str] | None = None) -> int:
    from ..errors import ScdiffError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    # the command line a checkpoint records (train, calibrate): the one given to main(), else the process's
    args._argv = None if argv is None else "scdiff " + " ".join(shlex.quote(x) for x in argv)
    with one_line_warnings():
        try:
            if args.command != "train" and getattr(args, "threads", None):
                import torch

                torch.set_num_threads(args.threads)
            _check_expected(args)
            return args.func(args)
        except (ScdiffError, UsageError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except MemoryError:
            print("error: not enough memory for this request; ask for fewer cells or genes, or a smaller model.",
                  file=sys.stderr)
            return 2
        except Exception as e:  # a bug: one line here, the traceback in a log file
            return internal_error(e, argv)
