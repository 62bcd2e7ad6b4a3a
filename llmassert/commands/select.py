"""`llmassert select FILE`: choose assertions from a matrix or re-select from a synth manifest.

FILE is a plain matrix JSON (``assertions``, ``M``, ``y``, ``K``) or a manifest written by
``llmassert synth`` (it has ``candidates``). For a manifest the new selection is written back —
``<name>.json`` and ``<name>.py`` beside it, or into ``--out`` — without any LLM call.
Exit codes: 0 selected, 2 bad input or infeasible targets (the message names the nearest feasible
``--alpha``/``--tau``).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmassert.commands._options import ForceOpt, share_option

if TYPE_CHECKING:
    from llmassert.select import Matrix, Selection
    from llmassert.synth.manifest import Manifest


class Method(StrEnum):
    sub = "sub"
    cov = "cov"
    base = "base"
    criteria = "criteria"


class SubRule(StrEnum):
    lexicographic = "lexicographic"
    exemption = "exemption"


class Solver(StrEnum):
    auto = "auto"
    highs = "highs"
    cbc = "cbc"


JSON_KEYS = ("method", "selected", "count", "coverage", "ffr", "status", "seconds")


def register(app: typer.Typer) -> None:
    @app.command("select")
    def select_command(
        file: Annotated[
            Path,
            typer.Argument(
                help="A matrix JSON (assertions, M, y, K) or a manifest written by `synth`."
            ),
        ],
        method: Annotated[
            Method | None,
            typer.Option(
                help="sub: coverage + subsumption (SPADE_sub, see --sub-rule); cov: coverage "
                "only; base: every assertion with FFR <= tau; criteria: one per criterion, no "
                "labels needed. Default: the manifest's method, else sub."
            ),
        ] = None,
        alpha: Annotated[
            float | None,
            share_option(
                help="Coverage target: share of bad responses to catch. Default: the targets "
                "the manifest's selection was solved for, else 0.6."
            ),
        ] = None,
        tau: Annotated[
            float | None,
            share_option(
                help="False-failure ceiling: share of good responses that may fail. "
                "Default: the targets the manifest's selection was solved for, else 0.25."
            ),
        ] = None,
        sub_rule: Annotated[
            SubRule,
            typer.Option(
                "--sub-rule",
                help="What sub optimizes. lexicographic: fewest assertions left out and not "
                "subsumed by a selected one (SPADE's objective), then the fewest assertions. "
                "exemption: the fewest assertions such that each one left out is subsumed or "
                "would push the FFR above tau (the earlier reading of sub; it lets a "
                "selection near tau exempt almost everything).",
            ),
        ] = SubRule.lexicographic,
        time_limit: Annotated[
            float,
            typer.Option(
                "--time-limit",
                min=0.1,
                help="Seconds for the solver; past it the best selection found is returned, "
                "marked not proven optimal.",
            ),
        ] = 60.0,
        solver: Annotated[
            Solver, typer.Option(help="ILP solver; auto = HiGHS when installed, else CBC.")
        ] = Solver.auto,
        presolve: Annotated[
            bool, typer.Option(help="Shrink the problem before the ILP (same optimum, faster).")
        ] = True,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the selection as one JSON object.")
        ] = False,
        out: Annotated[
            Path | None,
            typer.Option(
                help="Manifest only: folder for the rewritten <name>.py and <name>.json "
                "(default: the manifest's folder)."
            ),
        ] = None,
        force: ForceOpt = False,
    ) -> None:
        """Choose the fewest assertions that meet coverage >= alpha and FFR <= tau."""
        from llmassert.errors import InfeasibleError
        from llmassert.select import select

        matrix, manifest = _load(file)
        if manifest is not None:  # refuse before solving, not after
            from llmassert.synth.writer import check_not_edited, module_stem

            target = (out or file.parent) / f"{module_stem(manifest.prompt)}.py"
            check_not_edited([target], force=force)
        chosen_method = method.value if method else (manifest.method if manifest else "sub")
        # A manifest's own selection targets (synth may have tightened tau or relaxed alpha):
        # re-selecting without options gives synth's selection back.
        a = alpha if alpha is not None else (manifest.selection.alpha if manifest else 0.6)
        t = tau if tau is not None else (manifest.selection.tau if manifest else 0.25)
        from rich.console import Console

        status = Console(stderr=True).status(  # a spinner on a terminal, silent otherwise
            f"selecting ({chosen_method}, {matrix.n_assertions} assertions x "
            f"{matrix.n_responses} responses)"
        )
        try:
            with status:
                result = select(
                    matrix,
                    chosen_method,  # type: ignore[arg-type]
                    a,
                    t,
                    time_limit_s=time_limit,
                    presolve=presolve,
                    solver=solver.value,
                    sub_rule=sub_rule.value,
                )
        except InfeasibleError as e:
            raise InfeasibleError(e.message, nearest=e.nearest, file=file) from None
        written = (
            _rewrite(manifest, result, a, t, out or file.parent, force=force) if manifest else []
        )
        if as_json:
            typer.echo(json.dumps(_as_json(result, written)))
        else:
            _print(result, matrix, written)


def _load(path: Path) -> tuple[Matrix, Manifest | None]:
    from llmassert.errors import MatrixError
    from llmassert.fileio import read_json
    from llmassert.select import Matrix

    raw = read_json(path, MatrixError)
    if not (isinstance(raw, dict) and "candidates" in raw):
        return Matrix.from_json_data(raw, file=path), None
    from llmassert.synth.engine import manifest_matrix
    from llmassert.synth.manifest import load_manifest

    manifest = load_manifest(path)
    return manifest_matrix(manifest), manifest


def _rewrite(
    manifest: Manifest,
    result: Selection,
    alpha: float,
    tau: float,
    out: Path,
    *,
    force: bool = False,
) -> list[Path]:
    """The manifest with the new selection, and its module: written atomically, no LLM."""
    from llmassert.synth.writer import write_outputs

    updated = manifest.model_copy(update={"alpha": alpha, "tau": tau}).selected_by(
        result, alpha=alpha, tau=tau
    )
    return write_outputs(updated, out, force=force)


def _as_json(result: Selection, written: list[Path]) -> dict[str, Any]:
    data = result.model_dump(mode="json")
    ordered = {key: data.pop(key) for key in JSON_KEYS}
    return {**ordered, **data, "written": [str(p) for p in written]}


def _print(result: Selection, matrix: Matrix, written: list[Path]) -> None:
    from rich.table import Table

    from llmassert.commands._console import console as make_console

    console = make_console()
    table = Table(
        title=f"{result.method}: {result.count} of {matrix.n_assertions} assertions",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("assertion")
    if matrix.kinds is not None:
        table.add_column("kind")
    if matrix.groups is not None:
        table.add_column("criterion")
    for k, j in enumerate(result.indices, start=1):
        row = [str(k), matrix.assertions[j]]
        if matrix.kinds is not None:
            row.append(matrix.kinds[j])
        if matrix.groups is not None:
            row.append(matrix.groups[j])
        table.add_row(*row)
    console.print(table)

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    proof = "proven optimal" if result.proven_optimal else "NOT proven optimal"
    console.print(
        f"coverage {pct(result.coverage)} (alpha {result.alpha:g}) · FFR {pct(result.ffr)} "
        f"(tau {result.tau:g}) · {result.status}, {proof} · {result.solver} "
        f"{result.seconds:.2f} s"
    )
    if result.method == "sub" and result.unsubsumed is not None:
        console.print(
            f"left out and not subsumed: {result.unsubsumed} of "
            f"{matrix.n_assertions - result.count} ({result.sub_rule} rule)"
        )
    if result.presolve is not None:
        p = result.presolve
        fixed = f", {p.fixed} fixed" if p.fixed else ""
        console.print(
            f"presolve: {p.assertions} x {p.responses} -> {p.assertions_after} x "
            f"{p.responses_after}{fixed}",
            style="dim",
        )
    for note in result.notes:
        console.print(f"note: {note}", style="yellow")
    for path in written:
        console.print(f"wrote {path}")
