"""A static answer depends on the request alone (issue 14: a job's chunks, run by other engines,
must merge into exactly the synchronous answer). Without :mod:`bioxen_services.static.lp_start`,
GLPK's warm starts made FVA of iMM904 differ by up to 2.5e-9 between chunked and whole requests,
deletion growths by 1e-14, and every answer by what the engine had computed before."""

from __future__ import annotations

import pytest

from support import MODELS


@pytest.fixture(scope="module")
def engine_models():
    """The service's own compiled models (CobraStore.compile), as an engine holds them."""
    from bioxen_services.static.models import CobraStore, configure_cobra

    configure_cobra()
    store = CobraStore.__new__(CobraStore)
    return {name: CobraStore.compile(store, MODELS[name].read_text(), "sbml", name)
            for name in ("e_coli_core", "iMM904")}


def _disturb(model) -> None:
    """Leave another basis behind, as an earlier request of another engine would."""
    from bioxen_services.static.engine import Changes, run_fva

    exchange = "EX_glc__D_e" if "EX_glc__D_e" in model.reactions else model.exchanges[0].id
    run_fva(model, Changes(bounds={exchange: (-3.0, 5.0)}), [r.id for r in model.reactions[:40]], 0.8)


@pytest.mark.parametrize("name,count", [("e_coli_core", 95), ("iMM904", 200)])
def test_fva_in_block_aligned_parts_equals_the_whole_request(engine_models, name, count):
    from bioxen_services.static.engine import Changes, run_fva
    from bioxen_services.static.variability import BLOCK

    model = engine_models[name]
    ids = [r.id for r in model.reactions][:count]
    whole = run_fva(model, Changes(), ids, 0.95)
    parts = {}
    for first in range(0, len(ids), BLOCK * 2):
        _disturb(model)
        parts.update(run_fva(model, Changes(), ids[first:first + BLOCK * 2], 0.95)["ranges"])
    assert parts == whole["ranges"]  # exactly, not approximately
    assert list(parts) == ids


def test_deletion_growth_does_not_depend_on_the_batch(engine_models):
    from bioxen_services.static.engine import Changes, Deletion, run_knockouts

    model = engine_models["iMM904"]
    deletions = [Deletion(genes=[g.id]) for g in model.genes[:120]]
    whole = run_knockouts(model, Changes(), deletions)
    parts = []
    for first in range(0, len(deletions), 7):
        _disturb(model)
        parts += run_knockouts(model, Changes(), deletions[first:first + 7])["results"]
    assert parts == whole["results"]


def test_an_fba_answer_does_not_depend_on_the_engines_history(engine_models):
    from bioxen_services.static.engine import Changes, run_fba

    model = engine_models["iMM904"]
    first = run_fba(model, Changes())
    _disturb(model)
    assert run_fba(model, Changes()) == first
