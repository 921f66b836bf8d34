"""SBML ``comp`` (hierarchical models) before libRoadRunner sees them, which ignores submodels.

- :func:`inline_external_models` replaces every ``comp:externalModelDefinition`` of a document by a
  ``comp:modelDefinition`` copied from a document the request sent inline (``"files": {name: text}``);
  the service never resolves a source against disk or the network. The result is one self-contained
  document, so the sha256 it is cached by covers the files too.
- :func:`flatten` turns submodels into one flat model with libSBML's comp flattening (ids become
  ``A__x`` for ``x`` of submodel ``A``, as the SBML Test Suite expects).
"""

from __future__ import annotations

import libsbml

from ..errors import InvalidModel
from ..store import check_xml_text

#: deepest chain of documents that name each other through external model definitions
MAX_DEPTH = 8


def _read(text: str, what: str) -> libsbml.SBMLDocument:
    check_xml_text(text, what, external_models=True)
    doc = libsbml.readSBMLFromString(text)
    if doc.getModel() is None and not _comp(doc):
        errors = [doc.getError(i).getMessage().strip() for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        raise InvalidModel(f"{what} could not be read: " + ("; ".join(errors[:3]) or "no model"))
    return doc


def _comp(doc: libsbml.SBMLDocument):
    return doc.getPlugin("comp") if doc.isPackageEnabled("comp") else None


def _model_definition(doc: libsbml.SBMLDocument, ref: str | None) -> libsbml.Model | None:
    main = doc.getModel()
    if not ref or (main is not None and main.getId() == ref):
        return main
    plugin = _comp(doc)
    return plugin.getModelDefinition(ref) if plugin is not None else None


def inline_external_models(text: str, files: dict[str, str], depth: int = 0) -> str:
    """``text`` with each external model definition replaced by the model it names, taken from
    ``files``; a source that is not a key of ``files`` is refused (400) and never looked up elsewhere."""
    if depth > MAX_DEPTH:
        raise InvalidModel(f"external model definitions nest deeper than {MAX_DEPTH} documents (a cycle?)")
    doc = _read(text, "SBML" if depth == 0 else "an SBML file of 'files'")
    plugin = _comp(doc)
    if plugin is None or plugin.getNumExternalModelDefinitions() == 0:
        return text
    for emd in [plugin.getExternalModelDefinition(i) for i in range(plugin.getNumExternalModelDefinitions())]:
        source = emd.getSource()
        if source not in files:
            raise InvalidModel(
                f"externalModelDefinition {emd.getId()!r} names source {source!r}, which is not among the "
                f"request's files {sorted(files)}; send it as \"model\": {{\"sbml\": ..., \"files\": "
                f"{{{source!r}: \"<sbml>\"}}}} (this service never reads files or URLs named by a model)")
        sub_text = inline_external_models(files[source], files, depth + 1)
        sub = libsbml.readSBMLFromString(sub_text)
        if (sub.getLevel(), sub.getVersion()) != (doc.getLevel(), doc.getVersion()):
            sub.setLevelAndVersion(doc.getLevel(), doc.getVersion(), False)  # one document, one version
        found = _model_definition(sub, emd.getModelRef() if emd.isSetModelRef() else None)
        if found is None:
            raise InvalidModel(f"externalModelDefinition {emd.getId()!r}: no model "
                               f"{emd.getModelRef()!r} in file {source!r}")
        _copy_definitions(plugin, sub, found, prefix=emd.getId())
        definition = libsbml.ModelDefinition(found)
        definition.setId(emd.getId())
        if _comp(sub) is not None:  # (a model of a document without comp has no usable comp plugin)
            _rename_submodel_refs(definition, prefix=emd.getId())
        plugin.removeExternalModelDefinition(emd.getId())
        if plugin.addModelDefinition(definition) != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise InvalidModel(f"externalModelDefinition {emd.getId()!r} could not be inlined")
    return libsbml.writeSBMLToString(doc)


def _copy_definitions(plugin, sub: libsbml.SBMLDocument, used: libsbml.Model, prefix: str) -> None:
    """The model definitions of ``sub`` that ``used`` may instantiate, added under ``prefix__id``."""
    sub_plugin = _comp(sub)
    if sub_plugin is None:
        return
    for i in range(sub_plugin.getNumModelDefinitions()):
        definition = sub_plugin.getModelDefinition(i)
        if definition is used:
            continue
        copy = definition.clone()
        copy.setId(f"{prefix}__{definition.getId()}")
        _rename_submodel_refs(copy, prefix)
        plugin.addModelDefinition(copy)


def _rename_submodel_refs(model: libsbml.Model, prefix: str) -> None:
    model_plugin = model.getPlugin("comp")
    if model_plugin is None:
        return
    for i in range(model_plugin.getNumSubmodels()):
        submodel = model_plugin.getSubmodel(i)
        submodel.setModelRef(f"{prefix}__{submodel.getModelRef()}")


def flatten(text: str) -> str:
    """One flat model for a document using comp; other documents are returned unchanged."""
    if "comp" not in text:
        return text
    doc = libsbml.readSBMLFromString(text)
    if _comp(doc) is None:
        return text
    props = libsbml.ConversionProperties()
    props.addOption("flatten comp", True)
    props.addOption("performValidation", False)
    if doc.convert(props) != libsbml.LIBSBML_OPERATION_SUCCESS:
        errors = [doc.getError(i).getMessage().strip() for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        raise InvalidModel("the comp model could not be flattened: " + ("; ".join(errors[:3]) or "libSBML "
                                                                        "gave no reason"))
    return libsbml.writeSBMLToString(doc)
