"""Algebraic rules that libRoadRunner can simulate after all: a rule ``0 = f(x, ...)`` that is linear in
the one variable ``x`` nothing else determines is the assignment rule ``x := solution`` (SymPy solves it).
Rules it cannot rewrite exactly (nonlinear in their variable, functions, several candidates) are left
for :func:`~.programs.unsupported_features` to refuse by name."""

from __future__ import annotations

import re

import libsbml

#: formulas made only of ids, numbers and arithmetic are rewritten; anything else is left alone
_ARITHMETIC = re.compile(r"^[\w\s.+\-*/^()]*$")
_TOKEN = re.compile(r"\b[A-Za-z_]\w*\b")


def _determined(model: libsbml.Model) -> set[str]:
    """Ids whose value something other than an algebraic rule sets (or that never change)."""
    out = set()
    for i in range(model.getNumRules()):
        rule = model.getRule(i)
        if not rule.isAlgebraic():
            out.add(rule.getVariable())
    for items in (model.getListOfParameters(), model.getListOfCompartments(), model.getListOfSpecies()):
        for item in items:
            if item.getConstant():
                out.add(item.getId())
    for reaction in model.getListOfReactions():
        for refs in (reaction.getListOfReactants(), reaction.getListOfProducts()):
            for ref in refs:
                species = model.getSpecies(ref.getSpecies())
                if species is not None and not species.getBoundaryCondition():
                    out.add(species.getId())
    for event in model.getListOfEvents():
        for assignment in event.getListOfEventAssignments():
            out.add(assignment.getVariable())
    return out


def _ids(model: libsbml.Model) -> set[str]:
    return {item.getId() for items in (model.getListOfParameters(), model.getListOfCompartments(),
                                       model.getListOfSpecies()) for item in items}


def _solve(formula: str, variable: str, ids: set[str]) -> str | None:
    """``formula = 0`` solved for ``variable`` when it is linear in it; an L3 formula or None."""
    import sympy

    if not _ARITHMETIC.match(formula):
        return None
    names = {}
    for token in set(_TOKEN.findall(formula)):
        if token not in ids and token != "time":
            return None  # a function or a symbol SymPy would read differently
        names[token] = f"v{len(names)}"
    symbols = {alias: sympy.Symbol(alias) for alias in names.values()}
    text = _TOKEN.sub(lambda m: names[m.group(0)], formula).replace("^", "**")
    try:
        expr = sympy.sympify(text, locals=symbols)
        x = symbols[names[variable]]
        slope = sympy.diff(expr, x)
        if slope == 0 or x in slope.free_symbols:
            return None
        solutions = sympy.solve(expr, x)
    except (sympy.SympifyError, TypeError, ValueError, NotImplementedError):
        return None
    if len(solutions) != 1:
        return None
    back = {alias: name for name, alias in names.items()}
    solved = str(solutions[0]).replace("**", "^")
    return re.sub(r"\bv\d+\b", lambda m: back[m.group(0)], solved)


def rewrite_algebraic_rules(sbml: str) -> str:
    """``sbml`` with every algebraic rule it can solve exactly rewritten as an assignment rule;
    unchanged when there is none or when any of them cannot be rewritten."""
    if "algebraicRule" not in sbml:
        return sbml
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        return sbml
    indices = [i for i in range(model.getNumRules())
               if model.getRule(i).isAlgebraic() and model.getRule(i).isSetMath()]
    rules = [model.getRule(i) for i in indices]
    if not rules:
        return sbml
    ids, taken = _ids(model), _determined(model)
    formulas = [libsbml.formulaToL3String(rule.getMath()) for rule in rules]
    candidates = [{t for t in _TOKEN.findall(f) if t in ids and t not in taken} for f in formulas]
    chosen: dict[int, str] = {}
    while len(chosen) < len(rules):  # rules with one candidate first; each takes its variable
        progress = False
        for k, names in enumerate(candidates):
            free = names - set(chosen.values())
            if k not in chosen and len(free) == 1:
                chosen[k] = free.pop()
                progress = True
        if not progress:
            return sbml
    triggers = " ".join(libsbml.formulaToL3String(event.getTrigger().getMath())
                        for event in model.getListOfEvents()
                        if event.isSetTrigger() and event.getTrigger().isSetMath())
    if any(re.search(rf"\b{re.escape(v)}\b", triggers) for v in chosen.values()):
        # libRoadRunner misses some events triggered by such a variable (suite case 01575): refuse
        # rather than answer wrong numbers
        return sbml
    solved = {}
    for k, variable in chosen.items():
        solution = _solve(formulas[k], variable, ids)
        if solution is None:
            return sbml
        solved[k] = (variable, solution)
    maths = {k: libsbml.parseL3Formula(solution) for k, (_, solution) in solved.items()}
    if any(math is None for math in maths.values()):
        return sbml
    for k in sorted(solved, reverse=True):  # the highest index first: the others stay where they are
        model.removeRule(indices[k])
    for k, (variable, _) in solved.items():
        math = maths[k]
        rule = model.createAssignmentRule()
        rule.setVariable(variable)
        rule.setMath(math)
    return libsbml.writeSBMLToString(doc)
