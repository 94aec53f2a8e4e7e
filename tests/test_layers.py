"""The package's layers (issue 11): no module imports a higher layer, not even inside a function.

    core  <-  generic components  <-  recommender wing | other pipelines  <-  application

Each module of the installed package is read as source (its AST, no import), every `import` and
`from ... import` in it is collected, and an import of a module in a higher layer, or in a sibling
layer on the same level, is listed as `module:line (layer) -> imported module (layer)`. A module
outside the prefixes LAYERS names (a new kubetfx/<name>.py) must be placed there before it passes.
"""
import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "kubetfx"
# The repository's folders and the package names they install as (setup.py).
FOLDERS = {"kubetfx": "kubetfx", "components": "kubetfx.components", "pipelines": "kubetfx.pipelines"}

# Lowest level first; each level's layers by name. A module is in the layer of the longest entry it
# equals or lies under; the root package `kubetfx` (its __init__) is core, and any other module
# must be placed explicitly. A module may import its own layer and the levels below it; layers on
# the same level are independent (neither imports the other).
LAYERS = (
    # Configuration, the version and the shared kernel: domain-free, imports nothing of kubetfx above.
    {"core": ("kubetfx.version", "kubetfx.config", "kubetfx.components.common")},
    # TFX steps as KFP components, each a folder: component.py (KFP interface) + executor.py.
    {"components": ("kubetfx.components",)},
    {
        # Everything specific to recommendation, in one folder: its pipeline, module file and names,
        # its own components (pipelines/recommender/components/: interaction ingest, the ranking
        # evaluator, batch recommendations, the monitor), serving, and the monitoring pipeline.
        "recommender": ("kubetfx.pipelines.recommender", "kubetfx.pipelines.monitor"),
        # Any other pipeline composed from the generic components (e.g. a TFX user's): beside the
        # recommender wing, not on it.
        "pipelines": ("kubetfx.pipelines",),
    },
    # What users run: the CLI (one module per command), submission, the local and container
    # runners, retraining, benchmarks and image builds.
    {"application": ("kubetfx.__main__", "kubetfx.cli", "kubetfx.commands", "kubetfx.submit", "kubetfx.retrain",
                     "kubetfx.bench", "kubetfx.images", "kubetfx.pipelines.local_runner",
                     "kubetfx.pipelines.container_runner")},
)
LEVEL = {layer: level for level, layers in enumerate(LAYERS) for layer in layers}
ENTRIES = {layer: entries for layers in LAYERS for layer, entries in layers.items()}


def modules() -> dict[str, pathlib.Path]:
    """Every module of the package by its installed name."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def layer_of(module: str) -> str | None:
    if module == PACKAGE:
        return "core"
    best, layer = "", None
    for name, entries in ENTRIES.items():
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and len(entry) > len(best):
                best, layer = entry, name
    return layer


def imports(module: str, path: pathlib.Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported module) for every import of the package in `path`, at any depth;
    `from a import b` names `a.b` when that is a module, else `a`."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, up level - 1
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
                      for alias in node.names]
    return [(line, name) for line, name in found if name == PACKAGE or name.startswith(PACKAGE + ".")]


def upward_imports(checked: dict[str, pathlib.Path] | None = None) -> list[str]:
    """The imports from a higher or a sibling layer in `checked` (default: every module)."""
    known = modules()
    upward = []
    for module, path in (checked or known).items():
        for line, imported in imports(module, path, set(known)):
            source, target = layer_of(module), layer_of(imported)
            if target is not None and target != source and LEVEL[target] >= LEVEL[source]:
                upward.append(f"{module}:{line} ({source}) -> {imported} ({target})")
    return upward


def test_every_module_is_placed_in_a_layer():
    unplaced = [module for module in modules() if layer_of(module) is None]
    assert not unplaced, f"place these modules in tests/test_layers.py's LAYERS: {unplaced}"


def test_no_module_imports_a_higher_or_a_sibling_layer():
    upward = upward_imports()
    assert not upward, "imports from a higher or a sibling layer:\n" + "\n".join(upward)


def test_the_check_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("def f():\n    from kubetfx.pipelines.recommender import pipeline\n")
    known = {"kubetfx.pipelines.recommender.pipeline"}
    assert imports("kubetfx.components.common.x", source, known) == [(2, "kubetfx.pipelines.recommender.pipeline")]
    assert LEVEL[layer_of("kubetfx.pipelines.recommender.pipeline")] > LEVEL[layer_of("kubetfx.components.common.x")]


def test_a_pipeline_beside_the_wing_may_not_use_it(tmp_path):
    source = tmp_path / "pipeline.py"
    source.write_text("from kubetfx.components.train import component\nfrom kubetfx.pipelines.recommender.serving import loaded\n")
    assert upward_imports({"kubetfx.pipelines.users_pipeline.pipeline": source}) == [
        "kubetfx.pipelines.users_pipeline.pipeline:2 (pipelines) -> kubetfx.pipelines.recommender.serving.loaded (recommender)"]
