"""Reading SED-ML (libSEDML) and preparing the models it names: the SBML text of each model with its
changes applied, and what a variable's or change's XPath target points at in that model.

Model sources are files inside the archive's directory only: a source by URL (``http(s):``,
``urn:miriam:``, ``biomodels:``, anything with a scheme) or one whose resolved path leaves the root is
refused (:class:`~bioxen_services.errors.InvalidArchive`); nothing is fetched. A source that is
another model's id is that model with its own changes first (derived models).

Changes are applied to the XML before an engine loads it (xml.etree: the model text passed the
service's XML checks first, so no DTD or entity reaches the parser): ChangeAttribute, ComputeChange
(its math over its variables, read from the model as changed so far, and its parameters), AddXML,
ChangeXML, RemoveXML. XPath targets are evaluated with ElementTree's XPath subset (child steps, ``//``,
``[@attr='value']`` predicates, positions), which is what SED-ML targets into SBML use.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import libsedml

from ..errors import InvalidArchive, UnsupportedTask
from ..store import check_xml_text
from .mathml import evaluate

SBML_LANGUAGE = re.compile(r"^urn:sedml:language:sbml(\.level-\d+\.version-\d+)?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_SBML_CORE = re.compile(r"^http://www\.sbml\.org/sbml/level\d/version\d+(/core)?$")
_SBML_PACKAGE = re.compile(r"^http://www\.sbml\.org/sbml/level3/version\d/(\w+)/version\d+$")
#: largest model or SED-ML file read from an archive (the intake bounds the archive as a whole)
MAX_FILE_BYTES = 64 * 1024 * 1024


def sedml_key(path: str) -> str:
    """A SED-ML file's path as reports are keyed by it: relative, ``/``-separated, no ``./``."""
    key = posixpath.normpath(path.replace("\\", "/"))
    return key.removeprefix("./")


def inside(root: str, relative: str, what: str) -> str:
    """The absolute path of ``relative`` (to ``root``), refused unless it stays inside ``root``."""
    if _SCHEME.match(relative) and not re.match(r"^[A-Za-z]:[\\/]", relative):
        raise InvalidArchive(f"{what} is {relative!r}, a URL or URN: models are taken only from files "
                             "inside the archive; nothing is fetched")
    real_root = os.path.realpath(root)
    path = os.path.realpath(os.path.join(real_root, relative))
    if os.path.commonpath([real_root, path]) != real_root:
        raise InvalidArchive(f"{what} is {relative!r}, which is outside the archive")
    if not os.path.isfile(path):
        raise InvalidArchive(f"{what} is {relative!r}, which is not a file in the archive")
    return path


def read_text(path: str, what: str) -> str:
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise InvalidArchive(f"{what} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArchive(f"{what} is not UTF-8 text") from exc


def read_document(root: str, relative: str) -> libsedml.SedDocument:
    """The SED-ML document at ``relative``; malformed XML or SED-ML errors are refused with the
    parser's first messages."""
    what = f"SED-ML file {relative!r}"
    text = read_text(inside(root, relative, what), what)
    check_xml_text(text, what)
    doc = libsedml.readSedMLFromString(text)
    errors = [doc.getError(i) for i in range(doc.getNumErrors())]
    fatal = [f"line {e.getLine()}: {_last_line(e.getMessage())}" for e in errors
             if e.getSeverity() >= libsedml.LIBSEDML_SEV_ERROR]
    if fatal:
        raise InvalidArchive(f"{what} could not be read: " + "; ".join(fatal[:3]))
    return doc


def _last_line(message: str) -> str:
    """libSEDML's messages start with the rule's general text; the last line names the problem."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no message")[:300]


def namespaces(*elements) -> dict[str, str]:
    """Prefix -> URI declared on the SED-ML document and on the elements given (inner ones win)."""
    out: dict[str, str] = {}
    for element in elements:
        ns = element.getNamespaces() if element is not None else None
        for i in range(ns.getNumNamespaces() if ns is not None else 0):
            if ns.getPrefix(i):
                out[ns.getPrefix(i)] = ns.getURI(i)
    return out


# ---------------------------------------------------------------------------------------------------
# the model XML and XPath targets into it


class ModelXml:
    """One model's XML, as parsed from its file and changed by SED-ML changes."""

    def __init__(self, text: str, where: str):
        check_xml_text(text, where, external_models=True)
        try:
            self.root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise InvalidArchive(f"{where} is not well-formed XML: {exc}") from exc
        self.where = where
        self._prefixes = {prefix: uri for _, (prefix, uri)
                          in ET.iterparse(io.StringIO(text), events=("start-ns",))}

    def copy(self) -> ModelXml:
        clone = ModelXml.__new__(ModelXml)
        clone.root = _deep_copy(self.root)
        clone.where = self.where
        clone._prefixes = dict(self._prefixes)
        return clone

    def text(self) -> str:
        """The XML written out with the document's own prefixes and its root's namespace as the
        default one: libSBML refuses SBML Level 2 core elements with a prefix. (ElementTree keeps
        prefixes in a process-wide table; an engine process writes one document at a time.)"""
        for prefix, uri in self._prefixes.items():
            if prefix and not re.match(r"ns\d+$", prefix):
                ET.register_namespace(prefix, uri)
        ET.register_namespace("", _namespace(self.root.tag))
        return ET.tostring(self.root, encoding="unicode")

    def _map(self, given: dict[str, str]) -> dict[str, str]:
        """The SED-ML's prefixes, with SBML core and package URIs of another level/version mapped to
        the ones this model declares (SED-ML files often bind ``sbml:`` to another version)."""
        own_core = _namespace(self.root.tag)
        own_packages = {m.group(1): uri for uri in self._prefixes.values() if (m := _SBML_PACKAGE.match(uri))}
        out = {}
        for prefix, uri in given.items():
            if _SBML_CORE.match(uri) and own_core and _SBML_CORE.match(own_core):
                uri = own_core
            elif (m := _SBML_PACKAGE.match(uri)) and m.group(1) in own_packages:
                uri = own_packages[m.group(1)]
            out[prefix] = uri
        return out

    def select(self, xpath: str, ns: dict[str, str], what: str) -> list[ET.Element]:
        """The elements an XPath (without a trailing ``/@attribute``) selects."""
        ns = self._map(ns)
        path = xpath.strip()
        try:
            if path.startswith("//"):
                found = self.root.findall("." + path, ns)
                first = _qualify(path[2:].split("/", 1)[0], ns)
                if _matches(self.root, first):
                    found.insert(0, self.root)
                return found
            if not path.startswith("/"):
                return self.root.findall(path, ns)
            steps = path[1:].split("/", 1)
            if not _matches(self.root, _qualify(steps[0], ns)):
                return []
            return [self.root] if len(steps) == 1 else self.root.findall("./" + steps[1], ns)
        except (SyntaxError, KeyError) as exc:
            raise InvalidArchive(f"{what}: the XPath {xpath!r} could not be evaluated ({exc}); targets "
                                 "are evaluated with child steps and [@attribute='value'] predicates") from exc


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _qualify(step: str, ns: dict[str, str]) -> tuple[str, str | None]:
    """An XPath step's element name as (local name, namespace or None), predicates dropped."""
    name = step.split("[", 1)[0]
    if ":" in name:
        prefix, local = name.split(":", 1)
        if prefix not in ns:
            raise KeyError(f"prefix {prefix!r} is not declared")
        return local, ns[prefix]
    return name, None


def _matches(element: ET.Element, qualified: tuple[str, str | None]) -> bool:
    local, uri = qualified
    return (local == "*" or _local(element.tag) == local) and (uri is None or _namespace(element.tag) == uri)


def _deep_copy(element: ET.Element) -> ET.Element:
    import copy

    return copy.deepcopy(element)


def split_attribute(target: str) -> tuple[str, str | None]:
    """``.../sbml:species[@id='S']/@initialConcentration`` -> (element path, ``initialConcentration``)."""
    match = re.match(r"^(.*)/@([\w:.-]+)\s*$", target.strip())
    return (match.group(1), match.group(2)) if match else (target.strip(), None)


def _attribute_key(name: str, ns: dict[str, str]) -> str:
    if ":" in name:
        prefix, local = name.split(":", 1)
        if prefix in ns:
            return f"{{{ns[prefix]}}}{local}"
    return name


@dataclass
class Target:
    """What an XPath target names in an SBML model: the element's kind (its tag: ``species``,
    ``parameter``, ``compartment``, ``reaction``, ``objective``, ...), its id, and the attribute named
    after ``/@`` if any. ``amount``: a species whose values are amounts (hasOnlySubstanceUnits)."""

    kind: str
    id: str
    attribute: str | None = None
    amount: bool = False
    element: ET.Element | None = field(default=None, repr=False)


def resolve_target(model: ModelXml, target: str, ns: dict[str, str], what: str) -> Target:
    path, attribute = split_attribute(target)
    found = model.select(path, ns, what)
    if not found:
        raise InvalidArchive(f"{what}: the target {target!r} names nothing in {model.where}")
    if len(found) > 1:
        raise InvalidArchive(f"{what}: the target {target!r} names {len(found)} elements of "
                             f"{model.where}; it must name one")
    element = found[0]
    ident = element.get("id")
    if ident is None:  # fbc:id and other packages' ids
        ident = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
    amount = element.get("hasOnlySubstanceUnits", "false").strip().lower() in ("true", "1")
    return Target(_local(element.tag), ident, attribute and _local(_attribute_key(attribute, ns)), amount,
                  element)


# ---------------------------------------------------------------------------------------------------
# models and their changes


def model_language_ok(model) -> bool:
    return bool(SBML_LANGUAGE.match(model.getLanguage() or "urn:sedml:language:sbml"))


class Models:
    """The models of one SED-ML document as XML with their changes applied (derived models first)."""

    def __init__(self, root: str, sedml: str, doc: libsedml.SedDocument):
        self.root = root
        self.sedml = sedml
        self.doc = doc
        self.base = posixpath.dirname(sedml)
        self._xml: dict[str, ModelXml] = {}
        self.sources: dict[str, str] = {}

    def get(self, model_id: str, chain: tuple[str, ...] = ()) -> ModelXml:
        """The model ``model_id`` of the document with its changes (cached; do not modify)."""
        if model_id in self._xml:
            return self._xml[model_id]
        if model_id in chain:
            raise InvalidArchive(f"{self.sedml}: models derive from each other in a cycle: "
                                 + " -> ".join([*chain, model_id]))
        model = self.doc.getModel(model_id)
        if model is None:
            raise InvalidArchive(f"{self.sedml}: no model {model_id!r}")
        if not model_language_ok(model):
            raise UnsupportedTask(model_id, self.sedml, f"model language {model.getLanguage()!r} is not "
                                  "SBML (urn:sedml:language:sbml)")
        source = (model.getSource() or "").strip()
        source = source.removeprefix("#")
        if source and self.doc.getModel(source) is not None and source != model_id:
            xml = self.get(source, (*chain, model_id)).copy()
            self.sources[model_id] = self.sources[source]
        else:
            if not source:
                raise InvalidArchive(f"{self.sedml}: model {model_id!r} has no source")
            relative = posixpath.normpath(posixpath.join(self.base, source)) if not _SCHEME.match(source) \
                else source
            what = f"the source of model {model_id!r} in {self.sedml}"
            path = inside(self.root, relative, what)
            xml = ModelXml(read_text(path, what), f"model {model_id!r} ({source})")
            self.sources[model_id] = posixpath.dirname(relative)
        for i in range(model.getNumChanges()):
            apply_change(xml, model.getChange(i), self, f"change {i + 1} of model {model_id!r} in {self.sedml}")
        self._xml[model_id] = xml
        return xml

    def ns(self, *elements) -> dict[str, str]:
        return namespaces(self.doc, *elements)


def value_text(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def read_value(model: ModelXml, target: str, ns: dict[str, str], what: str) -> float:
    """The number a target names in the model's XML (an attribute, or the element's ``value`` /
    ``size`` / initial amount or concentration)."""
    found = resolve_target(model, target, ns, what)
    element = found.element
    names = ([found.attribute] if found.attribute else
             ["value", "size", "initialConcentration", "initialAmount", "stoichiometry"])
    for name in names:
        raw = next((v for k, v in element.attrib.items() if _local(k) == name), None)
        if raw is not None:
            try:
                return float(raw)
            except ValueError as exc:
                raise InvalidArchive(f"{what}: {target!r} is {raw!r}, not a number") from exc
    raise InvalidArchive(f"{what}: {target!r} has no value in the model's XML")


def compute_value(change, models: Models, model: ModelXml, extra: dict, what: str) -> float:
    """A ComputeChange / SetValue's new value: its math over its variables (read from ``model``),
    its parameters and ``extra`` (range values)."""
    values = dict(extra)
    for i in range(change.getNumParameters()):
        parameter = change.getParameter(i)
        values[parameter.getId()] = parameter.getValue()
    for i in range(change.getNumVariables()):
        variable = change.getVariable(i)
        if variable.isSetSymbol() and not variable.isSetTarget():
            raise UnsupportedTask(what, models.sedml, f"variable {variable.getId()!r} of a change names the "
                                  f"symbol {variable.getSymbol()!r}; only XPath targets can be read here")
        source = models.get(variable.getModelReference()) if variable.isSetModelReference() else model
        values[variable.getId()] = read_value(source, variable.getTarget(), models.ns(change, variable),
                                              f"{what}, variable {variable.getId()!r}")
    return float(evaluate(change.getMath(), values, what))


def set_attribute(model: ModelXml, target: str, value: str, ns: dict[str, str], what: str) -> None:
    path, attribute = split_attribute(target)
    if attribute is None:
        raise InvalidArchive(f"{what}: the target {target!r} names no attribute (it must end in /@name)")
    found = model.select(path, ns, what)
    if not found:
        raise InvalidArchive(f"{what}: the target {target!r} names nothing in {model.where}")
    key = _attribute_key(attribute, model._map(ns))
    for element in found:
        element.set(key, value)


def _xml_fragment(model: ModelXml, text: str, ns: dict[str, str], what: str) -> list[ET.Element]:
    """The elements of an AddXML/ChangeXML ``newXML`` (libSEDML's XMLNode written out), read with the
    SED-ML's prefixes and, for unprefixed elements, the model's own namespace."""
    from xml.sax.saxutils import quoteattr

    declared = {"": _namespace(model.root.tag), **model._map(ns)}
    attributes = " ".join(f"xmlns{':' + p if p else ''}={quoteattr(u)}" for p, u in declared.items() if u)
    wrapped = f"<fragment {attributes}>{text}</fragment>"
    check_xml_text(wrapped, what)
    try:
        return list(ET.fromstring(wrapped))
    except ET.ParseError as exc:
        raise InvalidArchive(f"{what}: its newXML is not well-formed: {exc}") from exc


def _new_xml(change) -> str:
    node = change.getNewXML()
    if node is None:
        return ""
    return "".join(node.getChild(i).toXMLString() for i in range(node.getNumChildren())) \
        if node.getName() in ("", "newXML") else node.toXMLString()


def _parents(model: ModelXml) -> dict[ET.Element, ET.Element]:
    return {child: parent for parent in model.root.iter() for child in parent}


def apply_change(model: ModelXml, change, models: Models, what: str) -> None:
    """One SED-ML model change applied to ``model``'s XML."""
    ns = models.ns(change)
    target = change.getTarget() or ""
    kind = change.getElementName()
    if kind == "changeAttribute":
        set_attribute(model, target, change.getNewValue(), ns, what)
    elif kind == "computeChange":
        set_attribute(model, target, value_text(compute_value(change, models, model, {}, what)), ns, what)
    elif kind in ("addXML", "changeXML", "removeXML"):
        found = model.select(target, ns, what)
        if not found:
            raise InvalidArchive(f"{what}: the target {target!r} names nothing in {model.where}")
        parents = _parents(model)
        for element in found:
            if kind == "addXML":
                element.extend(_xml_fragment(model, _new_xml(change), ns, what))
                continue
            parent = parents.get(element)
            if parent is None:
                raise InvalidArchive(f"{what}: {kind} cannot replace or remove the document's root")
            index = list(parent).index(element)
            parent.remove(element)
            if kind == "changeXML":
                for offset, new in enumerate(_xml_fragment(model, _new_xml(change), ns, what)):
                    parent.insert(index + offset, new)
    else:
        raise UnsupportedTask(what, models.sedml, f"model change {kind!r} is not supported")
